//! Harness for the end-to-end suite: Kubernetes emulated with a Docker Engine.
//!
//! Every scenario gets a private bridge network with a fixed /24 subnet (so executor
//! "pods" can be given their IP up front, as the downward API gives
//! `SPARK_EXECUTOR_POD_IP`), containers with network aliases standing in for Services
//! (`master`, `driver`, `notebook`), and a [`Cluster`] guard that removes its containers
//! and network when dropped — also when the test panics, after printing the tail of
//! every container's log. Containers and networks carry the label
//! `sparkimg-e2e.owner=<pid>`; anything left by a process that no longer runs (a killed
//! run) is removed when the next cluster is created.
//!
//! The images come from the environment (`cargo xtask e2e` sets it), so the same
//! scenarios run on daemonless-built and engine-built images: see [`Images`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Label on everything the suite creates.
pub const LABEL: &str = "sparkimg-e2e";
/// Label whose value is the pid of the test process that owns the object.
pub const OWNER_LABEL: &str = "sparkimg-e2e.owner";

/// `JAVA_TOOL_OPTIONS` of every container (unless its spec sets its own): the client
/// compiler only, and the serial collector. A scenario's JVMs run seconds-long jobs on
/// 2 shared cores, where C2's compile threads and parallel GC threads only compete with
/// the jobs: measured on scenario 1, 27 s → 15 s a run, the same tasks on the same
/// executors. What the suite proves (roles, env, signals, users) does not depend on
/// the JIT; every JVM, the launcher's included, prints that it picked these up.
pub const JIT_OPTIONS: &str = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

/// Fixed ports, as a Kubernetes driver pod uses them (`spark.driver.port` 7078,
/// block manager 7079) so executors and the headless Service can name them.
pub const DRIVER_PORT: u16 = 7078;
pub const BLOCK_MANAGER_PORT: u16 = 7079;

// ---------------------------------------------------------------------------------
// Inputs

/// What the scenarios run on, from the environment `cargo xtask e2e` sets.
#[derive(Clone, Debug)]
pub struct Images {
    /// Which build path made the images (`daemonless`, `docker`), for reports.
    pub variant: String,
    /// The JVM image (`REPO/spark:TAG`).
    pub spark: String,
    /// The PySpark image (`REPO/spark-py:TAG`).
    pub spark_py: String,
    /// A JVM image built with `--timezone Asia/Shanghai`.
    pub spark_tz: String,
    /// `docker-archive:` files holding the images above (for the registry scenario),
    /// empty when the images were not built into archives.
    pub archives: Vec<PathBuf>,
}

/// Paths of the suite's inputs.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub images: Images,
    /// `sparkpi.jar` (class `fixture.JavaSparkPi`, argument = slices) and `pi.py`.
    pub fixtures: PathBuf,
    /// This crate's `assets/` (slow_job.py, notebook.py, TZ.java).
    pub assets: PathBuf,
    /// Scratch space (compiled TZ class, registry storage).
    pub work: PathBuf,
    /// The sparkimg binary, for scenarios that build or push.
    pub sparkimg: Option<PathBuf>,
    /// Spark version of the images.
    pub spark_version: String,
    /// What the images' Spark line puts in pods.
    pub line: Line,
    /// Prefix of container and network names (`SPARKIMG_E2E_RUN`), so that runs of
    /// several lines at once do not collide; empty for the default run.
    pub run: String,
}

/// What differs between Spark lines in the pods Spark's Kubernetes backend makes
/// (issue 18; research/entrypoint-contract.md §7.2).
#[derive(Clone, Debug)]
pub struct Line {
    pub version: spark_version::SparkVersion,
    /// `spark.executor.extraJavaOptions` as this line's driver computes it (the Java
    /// module options from 3.3, the IPv6 preference from 3.4), one option each: from
    /// `cargo xtask fixtures`' `executor-java-options.txt`, which ran the line's own
    /// SparkContext code.
    pub executor_java_options: Vec<String>,
}

impl Line {
    /// What Spark's Kubernetes backend adds to a PySpark driver pod's env: 3.0 (like
    /// 2.4) sets `PYSPARK_MAJOR_PYTHON_VERSION` from `spark.kubernetes.pyspark.pythonVersion`
    /// (default 3), which the entrypoint turns into `PYSPARK_PYTHON=python3`; without it
    /// 3.0's PythonRunner runs `python`, which Debian's images lack. From 3.1 the backend
    /// sets nothing and Spark itself defaults to python3.
    pub fn python_driver_env(&self) -> Vec<(String, String)> {
        if self.version.at_least(3, 1, 0) {
            Vec::new()
        } else {
            vec![("PYSPARK_MAJOR_PYTHON_VERSION".into(), "3".into())]
        }
    }

    /// The executor main class: KubernetesExecutorBackend from 3.3, before it the
    /// generic CoarseGrainedExecutorBackend.
    pub fn executor_backend(&self) -> &'static str {
        if self.version.at_least(3, 3, 0) {
            "KubernetesExecutorBackend"
        } else {
            "CoarseGrainedExecutorBackend"
        }
    }
}

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the end-to-end suite needs images built by sparkimg and a \
             Docker Engine; run it with `cargo xtask e2e` (which builds and loads the \
             images, then runs `cargo test -p sparkimg-e2e -- --ignored`)"
        ),
    }
}

impl Inputs {
    pub fn from_env() -> Inputs {
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let archives = std::env::var("SPARKIMG_E2E_ARCHIVES")
            .unwrap_or_default()
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        let inputs = Inputs {
            images: Images {
                variant: var("SPARKIMG_E2E_VARIANT"),
                spark: var("SPARKIMG_E2E_IMAGE"),
                spark_py: var("SPARKIMG_E2E_PY_IMAGE"),
                spark_tz: var("SPARKIMG_E2E_TZ_IMAGE"),
                archives,
            },
            fixtures: PathBuf::from(var("SPARKIMG_E2E_FIXTURES")),
            assets,
            work: PathBuf::from(var("SPARKIMG_E2E_WORK")),
            sparkimg: std::env::var_os("SPARKIMG_E2E_SPARKIMG").map(PathBuf::from),
            spark_version: var("SPARKIMG_E2E_SPARK_VERSION"),
            line: Line {
                version: var("SPARKIMG_E2E_SPARK_VERSION")
                    .parse()
                    .expect("SPARKIMG_E2E_SPARK_VERSION is a Spark release"),
                // Empty before 3.3 (the driver adds nothing), so only unset is an error.
                executor_java_options: std::env::var("SPARKIMG_E2E_EXECUTOR_JAVA_OPTIONS")
                    .expect("SPARKIMG_E2E_EXECUTOR_JAVA_OPTIONS is not set: run `cargo xtask e2e`")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            },
            run: std::env::var("SPARKIMG_E2E_RUN").unwrap_or_default(),
        };
        std::fs::create_dir_all(&inputs.work).expect("create SPARKIMG_E2E_WORK");
        inputs
    }
}

// ---------------------------------------------------------------------------------
// Processes

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command to completion, capturing stdout and stderr.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)))
}

/// Runs a command and panics unless it exits 0; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let line = describe(cmd);
    let out = run(cmd);
    if !out.status.success() {
        panic!(
            "`{line}` failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn docker<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new("docker");
    c.args(args);
    c
}

/// stdout and stderr of an output, joined (Spark logs to stderr, results go to stdout).
pub fn text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// Polls `f` every 250 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------------
// Cleanup of what dead runs left behind

fn pid_alive(pid: &str) -> bool {
    pid.parse::<u32>().is_ok() && Path::new("/proc").join(pid).exists()
}

/// Removes containers and networks labelled [`LABEL`] whose owner process is gone.
/// Never touches anything without our label.
pub fn remove_stale() {
    let out = run(&mut docker([
        "ps",
        "-a",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        &format!("{{{{.ID}}}} {{{{.Label \"{OWNER_LABEL}\"}}}}"),
    ]));
    let stale: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let id = it.next()?;
            let owner = it.next().unwrap_or("");
            (!pid_alive(owner)).then(|| id.to_string())
        })
        .collect();
    if !stale.is_empty() {
        eprintln!(
            "e2e: removing {} stale container(s) of dead runs",
            stale.len()
        );
        let _ = run(docker(["rm", "-f", "-v"]).args(&stale));
    }
    let out = run(&mut docker([
        "network",
        "ls",
        "--filter",
        &format!("label={LABEL}"),
        "--format",
        "{{.Name}}",
    ]));
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        let owner = run(&mut docker([
            "network",
            "inspect",
            "--format",
            &format!("{{{{index .Labels \"{OWNER_LABEL}\"}}}}"),
            name,
        ]));
        if !pid_alive(String::from_utf8_lossy(&owner.stdout).trim()) {
            eprintln!("e2e: removing stale network {name}");
            let _ = run(&mut docker(["network", "rm", name]));
        }
    }
}

// ---------------------------------------------------------------------------------
// Cluster: one private network and the containers on it

/// A private Docker network with a fixed /24 subnet and the containers on it. Dropping
/// it removes them all (printing their logs first when the test is failing).
pub struct Cluster {
    pub scenario: String,
    /// Prefix of container names ([`Inputs::run`]).
    run: String,
    pub network: String,
    /// "172.31.N" — the /24 the containers' fixed IPs are taken from.
    prefix: String,
    containers: std::cell::RefCell<Vec<String>>,
    started: Instant,
    marks: std::cell::RefCell<Vec<(String, Duration)>>,
}

impl Cluster {
    pub fn new(scenario: &str) -> Cluster {
        Cluster::create(scenario, false)
    }

    /// A cluster whose network reaches nothing outside it (`docker network create
    /// --internal`): pods that must not need egress.
    pub fn new_internal(scenario: &str) -> Cluster {
        Cluster::create(scenario, true)
    }

    fn create(scenario: &str, internal: bool) -> Cluster {
        static STALE: Once = Once::new();
        STALE.call_once(remove_stale);
        let pid = std::process::id();
        let prefix_run = std::env::var("SPARKIMG_E2E_RUN").unwrap_or_default();
        let network = format!("{LABEL}-{prefix_run}{scenario}-{pid}");
        // A free /24: Docker refuses a subnet that overlaps another network's.
        for third in (200..=254).rev() {
            let prefix = format!("172.31.{third}");
            let out = run(docker([
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                &format!("{prefix}.0/24"),
                "--gateway",
                &format!("{prefix}.1"),
                "--label",
                LABEL,
                "--label",
                &format!("{OWNER_LABEL}={pid}"),
                &network,
            ])
            .args(internal.then_some("--internal")));
            if out.status.success() {
                eprintln!("e2e[{scenario}]: network {network} on {prefix}.0/24");
                return Cluster {
                    scenario: scenario.to_string(),
                    run: prefix_run,
                    network,
                    prefix,
                    containers: Default::default(),
                    started: Instant::now(),
                    marks: Default::default(),
                };
            }
            let err = String::from_utf8_lossy(&out.stderr);
            if !err.contains("overlap") {
                panic!("docker network create {network} failed: {err}");
            }
        }
        panic!("no free 172.31.200-254.0/24 subnet for a test network");
    }

    /// The fixed address `.host` in this cluster's subnet.
    pub fn ip(&self, host: u8) -> String {
        format!("{}.{host}", self.prefix)
    }

    /// Records a named point in time (printed by [`Cluster::report`]).
    pub fn mark(&self, what: &str) -> Duration {
        let t = self.started.elapsed();
        eprintln!("e2e[{}]: {:>6.1}s {what}", self.scenario, t.as_secs_f64());
        self.marks.borrow_mut().push((what.to_string(), t));
        t
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Appends one line (scenario, variant, marks) to `$SPARKIMG_E2E_REPORT` when set.
    pub fn report(&self, variant: &str, summary: &str) {
        let total = self.started.elapsed().as_secs_f64();
        let mut line = format!(
            "{{\"scenario\":\"{}\",\"variant\":\"{}\",\"seconds\":{:.1},\"summary\":\"{}\",\"marks\":{{",
            self.scenario,
            variant,
            total,
            summary.replace('\\', "\\\\").replace('"', "'")
        );
        for (i, (what, t)) in self.marks.borrow().iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            let _ = write!(
                line,
                "\"{}\":{:.1}",
                what.replace('"', "'"),
                t.as_secs_f64()
            );
        }
        line.push_str("}}\n");
        eprintln!("e2e[{}] PASSED in {total:.1}s: {summary}", self.scenario);
        if let Ok(path) = std::env::var("SPARKIMG_E2E_REPORT") {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = f.write_all(line.as_bytes());
            }
        }
    }

    /// Starts a detached container on this network.
    pub fn start(&self, spec: Spec) -> Container {
        let name = format!("{}-{}{}-{}", LABEL, self.run, self.scenario, spec.name);
        let mut cmd = docker(["run", "-d", "--name", &name]);
        cmd.args(["--label", LABEL]);
        cmd.args(["--label", &format!("{OWNER_LABEL}={}", std::process::id())]);
        cmd.args(["--network", &self.network]);
        cmd.args(["--hostname", spec.hostname.as_deref().unwrap_or(&spec.name)]);
        for alias in &spec.aliases {
            cmd.args(["--network-alias", alias]);
        }
        let ip = spec.ip.map(|h| self.ip(h));
        if let Some(ip) = &ip {
            cmd.args(["--ip", ip]);
        }
        if let Some(user) = &spec.user {
            cmd.args(["--user", user]);
        }
        if spec.read_only {
            cmd.arg("--read-only");
        }
        for (k, v) in &spec.env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        if !spec.env.iter().any(|(k, _)| k == "JAVA_TOOL_OPTIONS") {
            cmd.args(["-e", &format!("JAVA_TOOL_OPTIONS={JIT_OPTIONS}")]);
        }
        for (host, inside) in &spec.mounts {
            cmd.arg("-v").arg(format!("{}:{inside}:ro", host.display()));
        }
        for t in &spec.tmpfs {
            cmd.args(["--tmpfs", &format!("{t}:mode=1777")]);
        }
        if let Some(entrypoint) = &spec.entrypoint {
            cmd.args(["--entrypoint", entrypoint]);
        }
        cmd.arg(&spec.image).args(&spec.args);
        self.containers.borrow_mut().push(name.clone());
        run_ok(&mut cmd);
        Container { name, ip }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let names = self.containers.borrow().clone();
        if std::thread::panicking() {
            for name in &names {
                let out = run(&mut docker(["logs", "--tail", "80", name]));
                let status = run(&mut docker([
                    "inspect",
                    "--format",
                    "{{.State.Status}} exit={{.State.ExitCode}}",
                    name,
                ]));
                eprintln!(
                    "----- {name} ({}) last log lines -----\n{}",
                    String::from_utf8_lossy(&status.stdout).trim(),
                    text(&out)
                );
            }
        }
        if !names.is_empty() {
            let _ = run(docker(["rm", "-f", "-v"]).args(&names));
        }
        let _ = run(&mut docker(["network", "rm", &self.network]));
    }
}

/// How to start one container ("pod").
#[derive(Clone, Debug, Default)]
pub struct Spec {
    pub name: String,
    pub image: String,
    pub hostname: Option<String>,
    pub aliases: Vec<String>,
    /// Last octet of a fixed IP in the cluster's subnet.
    pub ip: Option<u8>,
    pub user: Option<String>,
    pub env: Vec<(String, String)>,
    /// Host path → container path, read-only.
    pub mounts: Vec<(PathBuf, String)>,
    /// Writable tmpfs directories (a pod's emptyDir volumes).
    pub tmpfs: Vec<String>,
    /// `--entrypoint` (a pod spec's `command`), instead of the image's.
    pub entrypoint: Option<String>,
    /// `--read-only` (a pod's `readOnlyRootFilesystem`).
    pub read_only: bool,
    pub args: Vec<String>,
}

impl Spec {
    pub fn new(name: &str, image: &str) -> Spec {
        Spec {
            name: name.into(),
            image: image.into(),
            ..Default::default()
        }
    }
    pub fn ip(mut self, host: u8) -> Spec {
        self.ip = Some(host);
        self
    }
    pub fn alias(mut self, a: &str) -> Spec {
        self.aliases.push(a.into());
        self
    }
    pub fn hostname(mut self, h: &str) -> Spec {
        self.hostname = Some(h.into());
        self
    }
    pub fn user(mut self, u: &str) -> Spec {
        self.user = Some(u.into());
        self
    }
    pub fn env(mut self, k: &str, v: impl Into<String>) -> Spec {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn envs(mut self, vars: Vec<(String, String)>) -> Spec {
        self.env.extend(vars);
        self
    }
    pub fn mount(mut self, host: &Path, inside: &str) -> Spec {
        self.mounts.push((host.to_path_buf(), inside.into()));
        self
    }
    pub fn read_only(mut self) -> Spec {
        self.read_only = true;
        self
    }

    pub fn tmpfs(mut self, dir: &str) -> Spec {
        self.tmpfs.push(dir.into());
        self
    }
    pub fn entrypoint(mut self, path: &str) -> Spec {
        self.entrypoint = Some(path.into());
        self
    }
    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Spec {
        self.args
            .extend(args.iter().map(|s| s.as_ref().to_string()));
        self
    }
}

/// A started container.
#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    pub ip: Option<String>,
}

impl Container {
    /// Its whole log, stdout and stderr.
    pub fn logs(&self) -> String {
        text(&run(&mut docker(["logs", &self.name])))
    }

    /// Waits until the log contains `needle`; returns the log.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        wait_for(
            &format!("{needle:?} in the log of {}", self.name),
            timeout,
            || {
                let log = self.logs();
                if log.contains(needle) {
                    return Some(log);
                }
                if !self.running() && !self.logs().contains(needle) {
                    panic!(
                        "{} exited ({:?}) before logging {needle:?}",
                        self.name,
                        self.exit_code()
                    );
                }
                None
            },
        )
    }

    /// Waits until `pred` holds for the log.
    pub fn wait_log_until(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        wait_for(
            &format!("{what} in the log of {}", self.name),
            timeout,
            || {
                let log = self.logs();
                pred(&log).then_some(log)
            },
        )
    }

    pub fn running(&self) -> bool {
        let out = run(&mut docker([
            "inspect",
            "--format",
            "{{.State.Running}}",
            &self.name,
        ]));
        String::from_utf8_lossy(&out.stdout).trim() == "true"
    }

    pub fn exit_code(&self) -> Option<i32> {
        let out = run(&mut docker([
            "inspect",
            "--format",
            "{{.State.Running}} {{.State.ExitCode}}",
            &self.name,
        ]));
        let s = String::from_utf8_lossy(&out.stdout);
        let mut it = s.split_whitespace();
        match (it.next(), it.next()) {
            (Some("false"), Some(code)) => code.parse().ok(),
            _ => None,
        }
    }

    /// Waits for the container to exit; returns its exit status.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        wait_for(&format!("{} to exit", self.name), timeout, || {
            self.exit_code()
        })
    }

    /// `docker exec` (as the container's user unless `user` is given).
    pub fn exec(&self, user: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = docker(["exec"]);
        if let Some(u) = user {
            cmd.args(["-u", u]);
        }
        cmd.arg(&self.name).args(args);
        run(&mut cmd)
    }

    /// Processes inside: (stat, uid, pid, comm) from `ps`, zombies included.
    pub fn processes(&self) -> Vec<Process> {
        let out = self.exec(Some("0"), &["ps", "-eo", "stat=,uid=,user:32=,pid=,comm="]);
        assert!(out.status.success(), "ps in {}: {}", self.name, text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 5).then(|| Process {
                    stat: f[0].into(),
                    uid: f[1].parse().unwrap_or(u32::MAX),
                    user: f[2].into(),
                    pid: f[3].parse().unwrap_or(0),
                    comm: f[4..].join(" "),
                })
            })
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Process {
    pub stat: String,
    pub uid: u32,
    pub user: String,
    pub pid: u32,
    pub comm: String,
}

/// Runs a throwaway container (`docker run --rm`) and returns its output.
pub fn run_once(image: &str, opts: &[&str], args: &[&str]) -> Output {
    let mut cmd = docker(["run", "--rm", "--network", "none"]);
    cmd.args(["--label", LABEL]);
    cmd.args(["--label", &format!("{OWNER_LABEL}={}", std::process::id())]);
    cmd.args(opts).arg(image).args(args);
    run(&mut cmd)
}

// ---------------------------------------------------------------------------------
// Spark on "Kubernetes": what the backend puts in pods

/// The environment `line`'s Kubernetes backend (BasicExecutorFeatureStep) gives an
/// executor pod: the driver URL, id, cores, memory, application id, the pod's IP
/// (downward API), `SPARK_USER`, `SPARK_CONF_DIR`, `SPARK_LOCAL_DIRS` (an emptyDir);
/// the resource profile from 3.1, the pod's name from 3.3, the executor attributes
/// from 4.0; and one `SPARK_JAVA_OPT_<n>` per word of `spark.executor.extraJavaOptions`
/// (the line's own, see [`Line`], then `extra_java_options`) followed by the
/// `-Dspark.*` startup settings the driver propagates (its port among them).
/// (`SPARK_DRIVER_POD_IP`, which 3.5.7+ drivers add through `spark.executorEnv`, is
/// not set: no executor-side code of these lines reads it unless
/// `spark.kubernetes.executor.useDriverPodIP` is on.)
pub fn executor_pod_env(
    line: &Line,
    driver_host: &str,
    app_id: &str,
    executor_id: u32,
    pod_ip: &str,
    pod_name: &str,
    extra_java_options: &[&str],
) -> Vec<(String, String)> {
    let v = &line.version;
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set(
        "SPARK_DRIVER_URL",
        format!("spark://CoarseGrainedScheduler@{driver_host}:{DRIVER_PORT}"),
    );
    set("SPARK_EXECUTOR_ID", executor_id.to_string());
    set("SPARK_EXECUTOR_CORES", "1".into());
    set("SPARK_EXECUTOR_MEMORY", "512m".into());
    set("SPARK_APPLICATION_ID", app_id.into());
    set("SPARK_EXECUTOR_POD_IP", pod_ip.into());
    if v.at_least(3, 3, 0) {
        set("SPARK_EXECUTOR_POD_NAME", pod_name.into());
    }
    if v.at_least(3, 1, 0) {
        set("SPARK_RESOURCE_PROFILE_ID", "0".into());
    }
    if v.at_least(4, 0, 0) {
        set("SPARK_EXECUTOR_ATTRIBUTE_APP_ID", app_id.into());
        set(
            "SPARK_EXECUTOR_ATTRIBUTE_EXECUTOR_ID",
            executor_id.to_string(),
        );
    }
    set("SPARK_USER", "spark".into());
    set("SPARK_CONF_DIR", "/opt/spark/conf".into());
    set("SPARK_LOCAL_DIRS", "/var/data/spark-local".into());
    let opts = line
        .executor_java_options
        .iter()
        .cloned()
        .chain(extra_java_options.iter().map(|o| o.to_string()))
        .chain([
            format!("-Dspark.driver.port={DRIVER_PORT}"),
            format!("-Dspark.driver.blockManager.port={BLOCK_MANAGER_PORT}"),
        ]);
    let mut vars: Vec<(String, String)> = env.into_iter().collect();
    vars.extend(
        opts.enumerate()
            .map(|(i, o)| (format!("SPARK_JAVA_OPT_{i}"), o)),
    );
    vars
}

/// An application in "cluster" emulation: a standalone master without workers (the
/// scheduler backend for a client-mode driver), the driver, and executor pods.
pub struct App {
    pub master: Container,
    pub driver: Container,
    pub app_id: String,
    pub executors: Vec<Container>,
}

/// A standalone master container (role `master`), alias `master`, up and ALIVE.
pub fn start_master(cluster: &Cluster, image: &str) -> Container {
    let master = cluster.start(
        Spec::new("master", image)
            .ip(10)
            .alias("master")
            .env("SPARK_DAEMON_MEMORY", "256m")
            .args(&[
                "master",
                "--host",
                "master",
                "--port",
                "7077",
                "--webui-port",
                "8080",
            ]),
    );
    master.wait_log("I have been elected leader", Duration::from_secs(90));
    cluster.mark("master ALIVE");
    master
}

/// Scheduler settings every driver of the suite gets: the fixed ports, no UI, small
/// memory, and "wait until `executors` cores registered" so every executor gets tasks.
pub fn driver_confs(driver_host: &str, executors: u32) -> Vec<String> {
    let mut v = Vec::new();
    for c in [
        format!("spark.driver.host={driver_host}"),
        format!("spark.driver.port={DRIVER_PORT}"),
        format!("spark.driver.blockManager.port={BLOCK_MANAGER_PORT}"),
        "spark.ui.enabled=false".into(),
        format!("spark.cores.max={executors}"),
        "spark.executor.cores=1".into(),
        "spark.executor.memory=512m".into(),
        "spark.scheduler.minRegisteredResourcesRatio=1.0".into(),
        "spark.scheduler.maxRegisteredResourcesWaitingTime=180s".into(),
        "spark.dynamicAllocation.enabled=false".into(),
    ] {
        v.push("--conf".into());
        v.push(c);
    }
    v
}

/// Reads the application id the master gave a driver from the driver's log.
pub fn wait_app_id(driver: &Container) -> String {
    let needle = "Connected to Spark cluster with app ID ";
    let log = driver.wait_log(needle, Duration::from_secs(120));
    let rest = &log[log.find(needle).unwrap() + needle.len()..];
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    assert!(id.starts_with("app-"), "odd app id {id:?}");
    id
}

/// Executor ids the driver registered (from "Registered executor … with ID N").
pub fn registered_executors(driver_log: &str) -> Vec<String> {
    driver_log
        .lines()
        .filter(|l| l.contains("Registered executor"))
        .filter_map(|l| {
            let i = l.find("with ID ")?;
            Some(
                l[i + 8..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != ',')
                    .collect(),
            )
        })
        .collect()
}

/// Per executor id, how many tasks the driver saw finish there.
pub fn finished_tasks(driver_log: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in driver_log.lines().filter(|l| l.contains("Finished task")) {
        if let Some(i) = l.find("(executor ") {
            let id: String = l[i + 10..].chars().take_while(|c| *c != ')').collect();
            *m.entry(id).or_insert(0) += 1;
        }
    }
    m
}

/// The line holding `needle`, for messages.
pub fn line_with<'a>(log: &'a str, needle: &str) -> Option<&'a str> {
    log.lines().find(|l| l.contains(needle))
}

/// Starts executor pods for `app` on fixed IPs `.31`, `.32`, …; `users[i]` is the
/// `--user` of executor i+1 (None: the image's).
pub fn start_executors(
    cluster: &Cluster,
    line: &Line,
    image: &str,
    driver_host: &str,
    app_id: &str,
    users: &[Option<&str>],
    extra_java_options: &[&str],
) -> Vec<Container> {
    users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let id = i as u32 + 1;
            let host = 30 + id as u8;
            let name = format!("exec-{id}");
            let pod_name = format!("{}-exec-{id}", cluster.scenario);
            let env = executor_pod_env(
                line,
                driver_host,
                app_id,
                id,
                &cluster.ip(host),
                &pod_name,
                extra_java_options,
            );
            let mut spec = Spec::new(&name, image)
                .ip(host)
                .hostname(&pod_name)
                .envs(env)
                .tmpfs("/var/data/spark-local")
                .args(&["executor"]);
            if let Some(u) = user {
                spec = spec.user(u);
            }
            cluster.start(spec)
        })
        .collect()
}
