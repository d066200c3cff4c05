//! The end-to-end scenarios. Run with `cargo xtask e2e` (it builds the images with
//! sparkimg, loads them, and runs these with `--ignored --test-threads=1`); each test
//! cleans up its containers and network, also when it fails.
//!
//! Names sort in the order they run (libtest sorts them).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sparkimg_e2e::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

enum Job {
    /// `fixture.JavaSparkPi` from the mounted sparkpi.jar.
    JvmPi { slices: u32 },
    /// pi.py from the mounted fixtures.
    PyPi { slices: u32 },
}

/// Scenario 1 (also run by 8 on a pulled image): a standalone master without workers,
/// a driver with role `driver` in client mode bound to its pod IP and advertising the
/// `driver` alias, then two executor pods with exactly the env Spark's Kubernetes
/// backend gives them. Returns a summary line.
fn executors_join_driver(cluster: &Cluster, inputs: &Inputs, image: &str, job: Job) -> String {
    let master = start_master(cluster, image);
    let python = matches!(job, Job::PyPi { .. });
    let (app_args, slices, result_needle): (Vec<String>, u32, &str) = match job {
        Job::JvmPi { slices } => (
            vec![
                "--class".into(),
                "fixture.JavaSparkPi".into(),
                "/opt/e2e/fixtures/sparkpi.jar".into(),
                slices.to_string(),
            ],
            slices,
            "Pi is roughly 3.1",
        ),
        Job::PyPi { slices } => (
            vec!["/opt/e2e/fixtures/pi.py".into(), slices.to_string()],
            slices,
            "Pi is roughly 3.1",
        ),
    };
    let mut args: Vec<String> = vec![
        "driver".into(),
        "--master".into(),
        "spark://master:7077".into(),
        "--name".into(),
        format!("e2e-{}", cluster.scenario),
        "--driver-memory".into(),
        "512m".into(),
    ];
    args.extend(driver_confs("driver", 2));
    args.extend(app_args);
    let driver = cluster.start(
        Spec::new("driver", image)
            .ip(20)
            .alias("driver")
            .hostname(&format!("{}-driver", cluster.scenario))
            .env("SPARK_DRIVER_BIND_ADDRESS", cluster.ip(20))
            .env("SPARK_CONF_DIR", "/opt/spark/conf")
            .env("SPARK_LOCAL_DIRS", "/var/data/spark-local")
            .envs(if python {
                inputs.line.python_driver_env()
            } else {
                Vec::new()
            })
            .tmpfs("/var/data/spark-local")
            .mount(&inputs.fixtures, "/opt/e2e/fixtures")
            .args(&args),
    );
    let app_id = wait_app_id(&driver);
    cluster.mark(&format!("driver connected as {app_id}"));
    let executors = start_executors(
        cluster,
        &inputs.line,
        image,
        "driver",
        &app_id,
        &[None, None],
        &[],
    );
    let log = driver.wait_log_until("2 registered executors", secs(180), |l| {
        registered_executors(l).len() >= 2
    });
    cluster.mark("2 executors registered");
    let mut ids = registered_executors(&log);
    ids.sort();
    assert_eq!(ids, ["1", "2"], "executor ids the driver registered");

    let code = driver.wait_exit(secs(240));
    cluster.mark("driver exited");
    let log = driver.logs();
    assert_eq!(code, 0, "driver exit status");
    let result = line_with(&log, result_needle)
        .unwrap_or_else(|| panic!("driver printed no {result_needle:?}"))
        .trim()
        .to_string();
    let tasks = finished_tasks(&log);
    assert_eq!(
        tasks.values().sum::<usize>(),
        slices as usize,
        "every task ran on an executor pod: {tasks:?}"
    );
    assert!(
        tasks.get("1").is_some_and(|n| *n > 0) && tasks.get("2").is_some_and(|n| *n > 0),
        "both executors ran tasks: {tasks:?}"
    );
    // The executor side: the line's executor backend, registered, with our env.
    let backend = inputs.line.executor_backend();
    for (i, e) in executors.iter().enumerate() {
        let elog = e.logs();
        assert!(
            elog.contains(&format!("{backend}: Started daemon")),
            "{} did not run {backend}",
            e.name
        );
        assert!(elog.contains("Successfully registered with driver"));
        assert!(
            elog.contains(&format!(
                "Starting executor ID {} on host {}",
                i + 1,
                cluster.ip(31 + i as u8)
            )),
            "{} does not use its pod IP as host",
            e.name
        );
        let code = e.wait_exit(secs(60));
        assert_eq!(code, 0, "{} exit status after the driver stopped", e.name);
    }
    cluster.mark("executors exited 0");
    assert!(master.running(), "the master outlives the application");
    let elapsed = cluster.elapsed();
    assert!(elapsed < secs(300), "scenario took {elapsed:?}");
    format!("{result}; tasks per executor {tasks:?}; app {app_id}")
}

#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s1_executor_pods_join_driver_jvm() {
    let inputs = Inputs::from_env();
    let cluster = Cluster::new("s1-jvm");
    let summary = executors_join_driver(
        &cluster,
        &inputs,
        &inputs.images.spark,
        Job::JvmPi { slices: 20 },
    );
    cluster.report(&inputs.images.variant, &summary);
}

#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s1_executor_pods_join_driver_pyspark() {
    let inputs = Inputs::from_env();
    let cluster = Cluster::new("s1-py");
    let summary = executors_join_driver(
        &cluster,
        &inputs,
        &inputs.images.spark_py,
        Job::PyPi { slices: 12 },
    );
    cluster.report(&inputs.images.variant, &summary);
}

/// Scenario 2: standalone master + two workers (one given the master by
/// `SPARK_MASTER_URL`, one by a `spark://` argument), a client-mode submit from a third
/// container (pass-through `spark-submit`); a worker is stopped mid-job and the job
/// still completes on the other.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s2_standalone_cluster_survives_worker_loss() {
    let inputs = Inputs::from_env();
    let image = inputs.images.spark_py.clone();
    let cluster = Cluster::new("s2");
    let master = start_master(&cluster, &image);
    let worker_env = |s: Spec| {
        s.env("SPARK_WORKER_CORES", "1")
            .env("SPARK_WORKER_MEMORY", "768m")
            .env("SPARK_DAEMON_MEMORY", "256m")
    };
    let w1 = cluster.start(
        worker_env(Spec::new("worker-1", &image).ip(41))
            .env("SPARK_MASTER_URL", "spark://master:7077")
            .args(&["worker", "--host", "worker-1"]),
    );
    let w2 = cluster.start(worker_env(Spec::new("worker-2", &image).ip(42)).args(&[
        "worker",
        "--host",
        "worker-2",
        "spark://master:7077",
    ]));
    for w in [&w1, &w2] {
        w.wait_log("Successfully registered with master", secs(120));
    }
    cluster.mark("2 workers registered");

    const TASKS: u32 = 40;
    let mut args: Vec<String> = vec![
        "/opt/spark/bin/spark-submit".into(),
        "--master".into(),
        "spark://master:7077".into(),
        "--deploy-mode".into(),
        "client".into(),
        "--driver-memory".into(),
        "512m".into(),
    ];
    args.extend(driver_confs("submit", 2));
    args.extend([
        "--conf".into(),
        "spark.executor.memory=512m".into(),
        "/opt/e2e/assets/slow_job.py".into(),
        TASKS.to_string(),
        "0.5".into(),
    ]);
    let submit = cluster.start(
        Spec::new("submit", &image)
            .ip(20)
            .alias("submit")
            .mount(&inputs.assets, "/opt/e2e/assets")
            .args(&args),
    );
    // Both executors (one per worker) ran a task: the job is under way on both.
    submit.wait_log_until("tasks on 2 executors", secs(180), |l| {
        finished_tasks(l).values().filter(|n| **n >= 1).count() >= 2
    });
    let before = finished_tasks(&submit.logs());
    cluster.mark("tasks running on both workers' executors");
    assert!(
        submit.running(),
        "the job must still be running when the worker stops"
    );
    let t0 = Instant::now();
    run_ok(&mut docker(["stop", "-t", "20", &w2.name]));
    let stop_time = t0.elapsed();
    cluster.mark("worker-2 stopped");
    assert_eq!(
        w2.exit_code(),
        Some(143),
        "worker-2: SIGTERM reached the Worker JVM"
    );
    assert!(
        stop_time < secs(20),
        "worker stopped within the grace period ({stop_time:?})"
    );

    let code = submit.wait_exit(secs(240));
    cluster.mark("job finished");
    let log = submit.logs();
    assert_eq!(code, 0, "spark-submit exit status");
    let expected = format!("Slow job sum is {}", TASKS * (TASKS - 1) / 2);
    assert!(
        log.contains(&expected),
        "no {expected:?} in the driver output"
    );
    let lost = log.lines().any(|l| {
        l.contains("Lost executor")
            || l.contains("Executor lost")
            || l.contains("executor lost")
            || (l.contains("Executor") && l.contains("removed"))
    });
    assert!(lost, "the driver noticed the lost executor");
    let mlog = master.logs();
    assert!(
        mlog.contains("Removing worker")
            || mlog.contains("has been removed")
            || mlog.contains("DISCONNECTED"),
        "the master noticed worker-2 leaving"
    );
    assert!(w1.running(), "worker-1 survives");
    let after = finished_tasks(&log);
    cluster.report(
        &inputs.images.variant,
        &format!(
            "{expected}; tasks per executor before the stop {before:?}, at the end {after:?}; worker stop {:.1}s",
            stop_time.as_secs_f64()
        ),
    );
}

/// Scenario 3: a notebook-style client-mode driver (plain `python3` with pyspark on
/// sys.path, pass-through) in a container whose hostname is not what executors use:
/// it advertises the network alias `notebook` through spark.driver.host, and the
/// executor pods dial that name.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s3_notebook_client_mode() {
    let inputs = Inputs::from_env();
    let image = inputs.images.spark_py.clone();
    let cluster = Cluster::new("s3");
    let _master = start_master(&cluster, &image);
    let notebook = cluster.start(
        Spec::new("notebook", &image)
            .ip(20)
            .alias("notebook")
            .hostname("jupyter-5f7c9d-xk2lp")
            .env("MASTER", "spark://master:7077")
            .env("DRIVER_HOST", "notebook")
            .env("TASKS", "8")
            .mount(&inputs.assets, "/opt/e2e/assets")
            .args(&["python3", "/opt/e2e/assets/notebook.py"]),
    );
    // A notebook's Spark shell logs at WARN: the session prints its app id itself.
    let needle = "Notebook app id: ";
    let log = notebook.wait_log(needle, secs(120));
    let app_id: String = line_with(&log, needle).unwrap()[needle.len()..]
        .trim()
        .to_string();
    assert!(app_id.starts_with("app-"), "{app_id:?}");
    let executors = start_executors(
        &cluster,
        &inputs.line,
        &image,
        "notebook",
        &app_id,
        &[None, None],
        &[],
    );
    let code = notebook.wait_exit(secs(240));
    cluster.mark("notebook finished");
    let log = notebook.logs();
    assert_eq!(code, 0, "notebook exit status");
    let expected = format!("Notebook sum is {}", (0..8000u64).sum::<u64>());
    assert!(log.contains(&expected), "no {expected:?}");
    assert!(log.contains("Notebook squares: 14"));
    assert!(log.contains("Notebook driver host: notebook"));
    assert!(
        log.contains("Notebook block manager: notebook:7079"),
        "the driver advertises the alias, not its hostname"
    );
    assert!(log.contains("Notebook executors joined"));
    let mut ids = registered_executors(&log);
    ids.sort();
    assert_eq!(ids, ["1", "2"]);
    let tasks = finished_tasks(&log);
    for e in &executors {
        let elog = e.logs();
        assert!(
            elog.contains("Successfully created connection to notebook/"),
            "{} reached the driver by the alias",
            e.name
        );
        assert!(elog.contains("Successfully registered with driver"));
    }
    cluster.report(
        &inputs.images.variant,
        &format!("{expected}; tasks per executor {tasks:?}"),
    );
}

/// Scenario 4: `docker stop` of an executor pod → SIGTERM reaches the JVM, exit 143
/// within the grace period; decommissioning (`/opt/decom.sh`, the preStop hook) →
/// SIGPWR reaches the JVM, which decommissions and exits. A third executor then
/// finishes the job. No zombies inside the executors meanwhile.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s4_signals_stop_and_decommission() {
    let inputs = Inputs::from_env();
    let image = inputs.images.spark_py.clone();
    let cluster = Cluster::new("s4");
    let _master = start_master(&cluster, &image);
    const TASKS: u32 = 24;
    let args = slow_job_driver_args(TASKS);
    let driver = cluster.start(
        Spec::new("driver", &image)
            .ip(20)
            .alias("driver")
            .env("SPARK_DRIVER_BIND_ADDRESS", cluster.ip(20))
            .envs(inputs.line.python_driver_env())
            .mount(&inputs.assets, "/opt/e2e/assets")
            .args(&args),
    );
    let app_id = wait_app_id(&driver);
    let executors = start_executors(
        &cluster,
        &inputs.line,
        &image,
        "driver",
        &app_id,
        &[None, None],
        &[],
    );
    driver.wait_log_until("tasks on 2 executors", secs(180), |l| {
        finished_tasks(l).values().filter(|n| **n >= 1).count() >= 2
    });
    cluster.mark("both executors running tasks");

    // PID 1 reaps: no zombie in either pod (python workers come and go under the JVM).
    for e in &executors {
        let procs = e.processes();
        let zombies: Vec<_> = procs.iter().filter(|p| p.stat.starts_with('Z')).collect();
        assert!(zombies.is_empty(), "zombies in {}: {zombies:?}", e.name);
        let pid1 = procs.iter().find(|p| p.pid == 1).expect("a PID 1");
        assert_eq!(pid1.comm, "spark-entrypoin", "PID 1 of {}", e.name);
        assert!(
            procs.iter().any(|p| p.comm == "java"),
            "a java in {}",
            e.name
        );
    }

    // docker stop: SIGTERM to PID 1, forwarded to the JVM, 143 well inside the grace.
    let (e1, e2) = (&executors[0], &executors[1]);
    let t0 = Instant::now();
    run_ok(&mut docker(["stop", "-t", "30", &e1.name]));
    let stop_time = t0.elapsed();
    cluster.mark("exec-1 stopped");
    assert_eq!(
        e1.exit_code(),
        Some(143),
        "exec-1 exit status after docker stop"
    );
    assert!(
        stop_time < secs(25),
        "exec-1 stopped before the grace period ran out: {stop_time:?}"
    );
    let log1 = e1.logs();
    assert!(log1.contains("RECEIVED SIGNAL TERM"), "the JVM got SIGTERM");

    // Decommissioning arrived in 3.1 (SPARK-20624): on 3.0, exec-2 keeps working.
    let decommissioned = inputs
        .line
        .version
        .at_least(3, 1, 0)
        .then(|| decommission(&cluster, e2));
    // A replacement executor finishes the job: the driver survived both.
    let _e3 = cluster.start(
        Spec::new("exec-3", &image)
            .ip(33)
            .hostname("s4-exec-3")
            .envs(executor_pod_env(
                &inputs.line,
                "driver",
                &app_id,
                3,
                &cluster.ip(33),
                "s4-exec-3",
                &[],
            ))
            .tmpfs("/var/data/spark-local")
            .args(&["executor"]),
    );
    let code = driver.wait_exit(secs(240));
    cluster.mark("job finished on the replacement");
    let log = driver.logs();
    assert_eq!(code, 0, "driver exit status");
    let expected = format!("Slow job sum is {}", TASKS * (TASKS - 1) / 2);
    assert!(log.contains(&expected), "no {expected:?}");
    if decommissioned.is_some() {
        assert!(
            log.contains("Decommission") || log.contains("decommission"),
            "the driver saw the decommissioning"
        );
    }
    cluster.report(
        &inputs.images.variant,
        &format!(
            "docker stop -> 143 in {:.1}s; {}; {expected}; tasks {:?}",
            stop_time.as_secs_f64(),
            decommissioned
                .as_deref()
                .unwrap_or("no decommissioning before 3.1"),
            finished_tasks(&log)
        ),
    );
}

/// s4's driver: `slow_job.py` with `tasks` tasks against the standalone master, with
/// decommissioning on and room for the failures the stopped executor causes.
fn slow_job_driver_args(tasks: u32) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "driver".into(),
        "--master".into(),
        "spark://master:7077".into(),
        "--driver-memory".into(),
        "512m".into(),
    ];
    args.extend(driver_confs("driver", 2));
    for c in [
        "spark.decommission.enabled=true",
        "spark.task.maxFailures=8",
    ] {
        args.extend(["--conf".to_string(), c.to_string()]);
    }
    args.extend([
        "/opt/e2e/assets/slow_job.py".to_string(),
        tasks.to_string(),
        "0.5".into(),
    ]);
    args
}

/// Decommissions `e2` through the image's /opt/decom.sh (→ spark-entrypoint
/// decommission) and checks the JVM got SIGPWR, decommissioned and exited 0.
fn decommission(cluster: &Cluster, e2: &Container) -> String {
    let t0 = Instant::now();
    let out = e2.exec(None, &["/opt/decom.sh"]);
    let decom_time = t0.elapsed();
    cluster.mark("exec-2 decommissioned");
    // decom.sh waits for the JVM to exit; when it does, PID 1 exits with it and the
    // kernel SIGKILLs everything left in the PID namespace, this `docker exec` too if
    // it has not printed its exit yet (the same race as upstream's decom.sh under a
    // preStop hook). So: 0, or 137 once the container is already gone.
    let code2 = e2.wait_exit(secs(60));
    let decom_status = out.status.code();
    assert!(
        decom_status == Some(0) || decom_status == Some(137),
        "decom.sh exit {decom_status:?}: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("sending SIGPWR to the executor JVM"),
        "decom.sh: {}",
        text(&out)
    );
    let log2 = e2.logs();
    // Spark's SIGPWR handler (registered because spark.decommission.enabled) logs
    // this; nothing else in the executor sends it.
    assert!(
        log2.contains("Decommission executor 2."),
        "the JVM got SIGPWR and decommissioned"
    );
    assert!(log2.contains("Executor self-exiting due to : Finished decommissioning"));
    assert_eq!(code2, 0, "exec-2 exit status after decommissioning");
    assert!(decom_time < secs(60), "decommission took {decom_time:?}");

    format!(
        "decom.sh -> exit {decom_status:?} in {:.1}s, executor exit {code2}",
        decom_time.as_secs_f64()
    )
}

/// Scenario 5: the same executor pod with an OpenShift-style random uid (no passwd
/// entry: Spark fails without one) and started as root (drops to 185). Both join and
/// run tasks; the Python workers report who they ran as.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s5_random_uid_and_root() {
    let inputs = Inputs::from_env();
    let image = inputs.images.spark_py.clone();
    let cluster = Cluster::new("s5");
    let _master = start_master(&cluster, &image);
    let mut args: Vec<String> = vec![
        "driver".into(),
        "--master".into(),
        "spark://master:7077".into(),
        "--driver-memory".into(),
        "512m".into(),
    ];
    args.extend(driver_confs("driver", 2));
    args.extend([
        "/opt/e2e/assets/slow_job.py".to_string(),
        "16".into(),
        "0.5".into(),
    ]);
    let driver = cluster.start(
        Spec::new("driver", &image)
            .ip(20)
            .alias("driver")
            .env("SPARK_DRIVER_BIND_ADDRESS", cluster.ip(20))
            .envs(inputs.line.python_driver_env())
            .mount(&inputs.assets, "/opt/e2e/assets")
            .args(&args),
    );
    let app_id = wait_app_id(&driver);
    const RANDOM: &str = "1000730000";
    let executors = start_executors(
        &cluster,
        &inputs.line,
        &image,
        "driver",
        &app_id,
        &[Some("1000730000:0"), Some("0")],
        &[],
    );
    let (random, root) = (&executors[0], &executors[1]);
    random.wait_log("Successfully registered with driver", secs(180));
    root.wait_log("Successfully registered with driver", secs(180));
    cluster.mark("both executors registered");

    // Who the executor JVMs run as.
    let java = |c: &Container| {
        c.processes()
            .into_iter()
            .find(|p| p.comm == "java")
            .unwrap_or_else(|| panic!("no java in {}", c.name))
    };
    let rj = java(random);
    assert_eq!(rj.uid.to_string(), RANDOM, "random-uid executor JVM uid");
    assert_eq!(
        rj.user, RANDOM,
        "ps resolves the random uid to a name (passwd entry exists)"
    );
    let oj = java(root);
    assert_eq!(oj.uid, 185, "root-started executor dropped to 185");
    assert_eq!(oj.user, "spark");
    let pid1 = root.processes().into_iter().find(|p| p.pid == 1).unwrap();
    assert_eq!(
        pid1.uid, 0,
        "PID 1 stays root (it only drops for the child)"
    );
    // Java's user.name for the random uid, as the JVM sees it (same container).
    let out = random.exec(
        Some("1000730000:0"),
        &["java", "-XshowSettings:properties", "-version"],
    );
    let props = text(&out);
    let user_name = line_with(&props, "user.name = ")
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    assert_eq!(user_name, format!("user.name = {RANDOM}"), "{props}");
    let home = line_with(&props, "user.home = ")
        .map(str::trim)
        .unwrap_or("");
    assert_eq!(home, "user.home = /opt/spark");

    let code = driver.wait_exit(secs(240));
    cluster.mark("job finished");
    let log = driver.logs();
    assert_eq!(code, 0, "driver exit status");
    assert!(log.contains(&format!("Slow job sum is {}", 16 * 15 / 2)));
    let idents: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("Task identity: "))
        .collect();
    assert!(
        idents.contains(&format!("s5-exec-1 {RANDOM} {RANDOM}").as_str()),
        "python workers of the random-uid executor ran as it, with a passwd name: {idents:?}"
    );
    assert!(
        idents.contains(&"s5-exec-2 185 spark"),
        "python workers of the root-started executor ran as 185: {idents:?}"
    );
    for e in &executors {
        assert!(!e.logs().contains("KerberosAuthException"));
    }
    cluster.report(
        &inputs.images.variant,
        &format!(
            "JVM uids {} / {}; {user_name}; workers {idents:?}",
            rj.uid, oj.uid
        ),
    );
}

/// Compiles assets/TZ.java on the host (the images have a JRE, no compiler).
fn tz_class(inputs: &Inputs) -> PathBuf {
    let dir = inputs.work.join("tz-class");
    std::fs::create_dir_all(&dir).unwrap();
    run_ok(
        std::process::Command::new("javac")
            .args(["--release", "11", "-d"])
            .arg(&dir)
            .arg(inputs.assets.join("TZ.java")),
    );
    dir
}

fn tz_run(image: &str, class_dir: &std::path::Path, script: &str) -> String {
    let mount = format!("{}:/opt/e2e/tz:ro", class_dir.display());
    let out = run_once(image, &["-v", &mount], &["sh", "-c", script]);
    assert!(out.status.success(), "{script}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Scenario 6: an image built with `--timezone Asia/Shanghai`: `date` and the JVM agree
/// (with TZ from the image config, and with TZ unset so /etc/localtime and
/// /etc/timezone decide); the default image says UTC.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s6_timezone() {
    let inputs = Inputs::from_env();
    let cluster = Cluster::new("s6");
    let class_dir = tz_class(&inputs);
    let script = "echo \"TZ=${TZ-unset}\"; date +'date: %Z %z'; java -cp /opt/e2e/tz TZ Asia/Shanghai; \
                  unset TZ; date +'date without TZ: %Z %z'; echo \"etc/timezone: $(cat /etc/timezone)\"; \
                  echo \"localtime: $(readlink /etc/localtime || echo file)\"; \
                  java -cp /opt/e2e/tz TZ Asia/Shanghai | sed 's/^/without TZ: /'";
    let sh = tz_run(&inputs.images.spark_tz, &class_dir, script);
    cluster.mark("Asia/Shanghai image checked");
    eprintln!("{sh}");
    for want in [
        "TZ=Asia/Shanghai",
        "date: CST +0800",
        "default zone: Asia/Shanghai offset +08:00",
        "date without TZ: CST +0800",
        "etc/timezone: Asia/Shanghai",
        "same rules as Asia/Shanghai: true",
        // Without TZ the JVM finds its zone from /etc/localtime, a link into the base's
        // zoneinfo: it names the zone itself (a copied file gave an alias, PRC).
        "localtime: /usr/share/zoneinfo/Asia/Shanghai",
        "without TZ: default zone: Asia/Shanghai offset +08:00",
        "without TZ: same rules as Asia/Shanghai: true",
    ] {
        assert!(sh.contains(want), "{want:?} not in:\n{sh}");
    }
    let bare_id = sh
        .lines()
        .find_map(|l| l.strip_prefix("without TZ: default zone: "))
        .unwrap_or("?")
        .to_string();
    assert!(bare_id.ends_with("offset +08:00"), "{bare_id}");
    let utc = tz_run(&inputs.images.spark, &class_dir, script);
    cluster.mark("UTC image checked");
    for want in ["date: UTC +0000", "offset Z", "etc/timezone: UTC"] {
        assert!(utc.contains(want), "{want:?} not in:\n{utc}");
    }
    cluster.report(
        &inputs.images.variant,
        &format!(
            "Asia/Shanghai image: date CST +0800, JVM Asia/Shanghai +08:00; TZ unset: date CST, JVM {bare_id} (same rules); UTC image: UTC"
        ),
    );
}

/// Scenario 9 (issue 14): Spark's scripts are not needed. A standalone master started
/// through `/opt/entrypoint.sh` (upstream's path, which pod templates name), a worker,
/// a `driver` whose job runs on the worker's executor, and a history server: every
/// role goes through Spark's launcher run by the entrypoint. On the shell-free images there is no
/// `/bin/sh` at all, and a `spark-env.sh` is ignored with a warning; where there is a
/// shell, the scripts run and its settings apply.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s9_shell_free_standalone() {
    let inputs = Inputs::from_env();
    let image = inputs.images.spark.clone();
    let cluster = Cluster::new("s9");
    let sh = run_once(&image, &["--entrypoint", "/bin/sh"], &["-c", "true"]);
    let has_shell = sh.status.success();
    if inputs.images.variant == "noshell" {
        assert!(
            !has_shell,
            "the shell-free image runs /bin/sh: {}",
            text(&sh)
        );
    }
    // spark-env.sh as a user writes it: plain assignments, exported by the scripts.
    let conf = inputs.work.join("s9-conf");
    std::fs::create_dir_all(&conf).expect("create the conf dir");
    std::fs::write(conf.join("spark-env.sh"), "SPARK_DAEMON_MEMORY=320m\n")
        .expect("write spark-env.sh");

    let master = cluster.start(
        Spec::new("master", &image)
            .ip(10)
            .alias("master")
            .entrypoint("/opt/entrypoint.sh")
            .env("SPARK_DAEMON_MEMORY", "256m")
            .env("SPARK_CONF_DIR", "/opt/e2e/conf")
            .env("SPARK_PRINT_LAUNCH_COMMAND", "1")
            .mount(&conf, "/opt/e2e/conf")
            .args(&["master", "--host", "master", "--port", "7077"]),
    );
    let mlog = master.wait_log("I have been elected leader", secs(90));
    cluster.mark("master ALIVE");
    let command = line_with(&mlog, "Spark Command: ")
        .unwrap_or_else(|| panic!("the launcher printed no command:\n{mlog}"))
        .to_string();
    let env_rule = if has_shell {
        assert!(
            command.contains("-Xmx320m"),
            "spark-env.sh applied: {command}"
        );
        "spark-env.sh sourced by the scripts"
    } else {
        assert!(
            command.contains("-Xmx256m"),
            "spark-env.sh ignored: {command}"
        );
        assert!(
            mlog.contains("/opt/e2e/conf/spark-env.sh is ignored"),
            "no warning about spark-env.sh:\n{mlog}"
        );
        "spark-env.sh ignored with a warning"
    };

    let worker = cluster.start(
        Spec::new("worker", &image)
            .ip(41)
            .env("SPARK_MASTER_URL", "spark://master:7077")
            .env("SPARK_WORKER_CORES", "1")
            .env("SPARK_WORKER_MEMORY", "768m")
            .env("SPARK_DAEMON_MEMORY", "256m")
            .args(&["worker", "--host", "worker"]),
    );
    worker.wait_log("Successfully registered with master", secs(120));
    cluster.mark("worker registered");

    let mut args: Vec<String> = vec![
        "driver".into(),
        "--master".into(),
        "spark://master:7077".into(),
        "--driver-memory".into(),
        "512m".into(),
    ];
    args.extend(driver_confs("driver", 1));
    args.extend([
        "--class".into(),
        "fixture.JavaSparkPi".into(),
        "/opt/e2e/fixtures/sparkpi.jar".into(),
        "8".into(),
    ]);
    let driver = cluster.start(
        Spec::new("driver", &image)
            .ip(20)
            .alias("driver")
            .env("SPARK_DRIVER_BIND_ADDRESS", cluster.ip(20))
            .mount(&inputs.fixtures, "/opt/e2e/fixtures")
            .args(&args),
    );
    let code = driver.wait_exit(secs(240));
    cluster.mark("driver exited");
    let log = driver.logs();
    assert_eq!(code, 0, "driver exit status");
    let result = line_with(&log, "Pi is roughly 3.1")
        .unwrap_or_else(|| panic!("driver printed no result:\n{log}"))
        .trim()
        .to_string();
    let tasks = finished_tasks(&log);
    assert_eq!(tasks.values().sum::<usize>(), 8, "tasks: {tasks:?}");
    assert!(
        worker.logs().contains("Asked to launch executor"),
        "the worker launched the executor"
    );
    assert!(master.running() && worker.running());

    // The last role that went through spark-class: the history server.
    let history = cluster.start(
        Spec::new("history", &image)
            .ip(50)
            .env("SPARK_DAEMON_MEMORY", "256m")
            .tmpfs("/tmp/spark-events")
            .args(&["history"]),
    );
    history.wait_log("Bound HistoryServer to", secs(90));
    cluster.mark("history server up");
    cluster.report(
        &inputs.images.variant,
        &format!(
            "shell in image: {has_shell}; master via /opt/entrypoint.sh, {env_rule}; {result}; tasks {tasks:?}; history server up"
        ),
    );
}

/// Scenario 8: build and push to a local registry (Debian's docker-registry on
/// 127.0.0.1) with `sparkimg build --push`, pull through the Docker Engine (127.0.0.0/8
/// is insecure by default) and run scenario 1 on the pulled image.
///
/// sparkimg's images are reproducible, so the images this suite loaded (and any other
/// build of the same inputs on this machine) share their layers with a plain rebuild
/// and `docker pull` would transfer nothing. The pushed image is therefore built with
/// a run-unique SOURCE_DATE_EPOCH (every Spark layer's bytes differ) and without the
/// layer cache: its Spark layers exist nowhere but in the registry when it is pulled.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s8_registry_push_pull_run() {
    let inputs = Inputs::from_env();
    let build = BuildInputs::from_env();
    let cluster = Cluster::new("s8");
    let registry = Registry::start(&inputs.work);
    cluster.mark("registry up");
    let repo = format!("{}/e2e-{}", registry.host, std::process::id());
    let remote = format!("{repo}/spark:{}", inputs.spark_version);
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let out_dir = registry.dir.join("oci");
    let build_cmd = || {
        let mut cmd = std::process::Command::new(&build.sparkimg);
        cmd.args([
            "build",
            "-r",
            &repo,
            "-t",
            &inputs.spark_version,
            "--no-cache",
        ])
        .arg("--spark-home")
        .arg(&build.spark_home)
        .args(["--base", &build.base])
        .arg("--entrypoint-binary")
        .arg(&build.entrypoint)
        .arg("--output")
        .arg(format!("oci:{}", out_dir.display()))
        .env("SOURCE_DATE_EPOCH", &epoch);
        cmd
    };
    let out = run(build_cmd().arg("--push"));
    let how = match out.status.code() {
        Some(0) => "sparkimg build --push",
        // No registry client in this sparkimg: build, then copy with skopeo.
        Some(7) => {
            let _ = std::fs::remove_dir_all(&out_dir);
            run_ok(&mut build_cmd());
            run_ok(std::process::Command::new("skopeo").args([
                "copy".to_string(),
                "--quiet".into(),
                "--dest-tls-verify=false".into(),
                format!("oci:{}:{remote}", out_dir.display()),
                format!("docker://{remote}"),
            ]));
            "sparkimg build + skopeo copy"
        }
        _ => panic!(
            "sparkimg build --push failed ({}): {}",
            out.status,
            text(&out)
        ),
    };
    cluster.mark(&format!("built and pushed ({how})"));
    // An independent client reads it back from the registry.
    let manifest = run_ok(std::process::Command::new("skopeo").args([
        "inspect".to_string(),
        "--tls-verify=false".into(),
        format!("docker://{remote}"),
    ]));
    assert!(
        manifest.contains("\"Layers\""),
        "skopeo inspect {remote}: {manifest}"
    );

    let _untag = Untag(remote.clone());
    let (downloaded, pull_time) = pull_through_engine(&cluster, &repo, &remote);

    // The pulled image plans an executor pod and runs java.
    let env = executor_pod_env(&inputs.line, "driver", "app-0", 1, "10.0.0.1", "pod-1", &[]);
    let mut opts: Vec<String> = Vec::new();
    for (k, v) in &env {
        opts.push("-e".into());
        opts.push(format!("{k}={v}"));
    }
    let opt_refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    let plan = run_once(&remote, &opt_refs, &["--print-plan", "executor"]);
    let plan_text = text(&plan);
    assert!(plan.status.success(), "{plan_text}");
    assert!(plan_text.contains("org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"));
    assert!(plan_text.contains("--podName"));
    let jv = run_once(&remote, &[], &["java", "-version"]);
    assert!(text(&jv).contains("17."), "{}", text(&jv));

    // And the whole of scenario 1 on the pulled image.
    let summary = executors_join_driver(&cluster, &inputs, &remote, Job::JvmPi { slices: 10 });
    cluster.report(
        &inputs.images.variant,
        &format!(
            "{how}; docker pull transferred {downloaded} layers in {:.1}s; {summary}",
            pull_time.as_secs_f64()
        ),
    );
}

/// s8's image `remote` (of repository `repo`), removed locally and pulled back through
/// the engine: the Spark layers transferred, the digest kept. (Layers pulled, time.)
fn pull_through_engine(cluster: &Cluster, repo: &str, remote: &str) -> (usize, Duration) {
    let _ = run(&mut docker(["rmi", "-f", remote]));
    assert!(
        !run(&mut docker(["image", "inspect", remote]))
            .status
            .success(),
        "{remote} still present locally"
    );
    let t0 = Instant::now();
    let pulled = run_ok(&mut docker(["pull", remote]));
    let pull_time = t0.elapsed();
    cluster.mark("pulled through the engine");
    let downloaded = pulled.matches("Pull complete").count();
    // spark-deps, spark-jars, examples, spark-bin, system (the base may be present).
    assert!(
        downloaded >= 5,
        "the pull transferred the Spark layers:\n{pulled}"
    );
    let digests = run_ok(&mut docker([
        "image",
        "inspect",
        "--format",
        "{{join .RepoDigests \" \"}}",
        remote,
    ]));
    assert!(
        digests.contains(&format!("{repo}/spark@sha256:")),
        "{digests}"
    );
    (downloaded, pull_time)
}

/// What `sparkimg build` needs, from the environment `cargo xtask e2e` sets.
struct BuildInputs {
    sparkimg: PathBuf,
    spark_home: PathBuf,
    base: String,
    entrypoint: PathBuf,
}

impl BuildInputs {
    fn from_env() -> BuildInputs {
        let get = |n: &str| {
            std::env::var(n).unwrap_or_else(|_| panic!("{n} is not set: run `cargo xtask e2e`"))
        };
        BuildInputs {
            sparkimg: get("SPARKIMG_E2E_SPARKIMG").into(),
            spark_home: get("SPARKIMG_E2E_SPARK_HOME").into(),
            base: get("SPARKIMG_E2E_BASE"),
            entrypoint: get("SPARKIMG_E2E_ENTRYPOINT").into(),
        }
    }
}

/// Removes the pulled image (and so its unique layers) when dropped.
struct Untag(String);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = run(&mut docker(["rmi", "-f", &self.0]));
    }
}

/// Debian's `docker-registry` serving on 127.0.0.1:<free port>, storage in a temp dir.
struct Registry {
    child: std::process::Child,
    dir: PathBuf,
    host: String,
}

impl Registry {
    fn start(work: &std::path::Path) -> Registry {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = work.join(format!("registry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start docker-registry (apt-get install docker-registry)");
        let host = format!("127.0.0.1:{port}");
        let mut reg = Registry { child, dir, host };
        wait_for("the registry to answer /v2/", secs(20), || {
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited: {status}");
            }
            registry_answers(&reg.host).then_some(())
        });
        reg.host = reg.host.clone();
        reg
    }
}

fn registry_answers(host: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(secs(2)));
    if s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Scenario 10 (issue 15): a connector compiled here, `e2econn.Conn` in
/// `org.e2e:conn:1.0`, whose tasks call `e2edep.Dep` from its Maven dependency
/// `org.e2e:dep:1.0`, published to a `file://` repository, baked into an image with
/// `sparkimg build --packages org.e2e:conn:1.0`, and run as a real job: a driver and two
/// executor pods on a network with no way out, read-only root file systems, a random UID.
/// The executors load both classes from `/opt/spark/jars`.
#[test]
#[ignore = "needs a Docker Engine and images built by sparkimg: cargo xtask e2e"]
fn s10_packages_baked_connector() {
    let inputs = Inputs::from_env();
    let build = BuildInputs::from_env();
    let work = inputs.work.join(format!("s10-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let repo = work.join("m2");
    connector_repository(&build.spark_home, &work, &repo);
    let image = format!(
        "e2e-packages-{}/spark:{}",
        std::process::id(),
        inputs.spark_version
    );
    let _untag = Untag(image.clone());
    build_with_packages(&build, &inputs.spark_version, &work, &repo);

    let cluster = Cluster::new_internal("s10");
    const RANDOM: &str = "1000740000:0";
    let pod = |name: &str| {
        Spec::new(name, &image)
            .user(RANDOM)
            .read_only()
            .tmpfs("/tmp")
            .tmpfs("/var/data/spark-local")
    };
    let master = start_master(&cluster, &image);
    let mut args: Vec<String> = [
        "driver",
        "--master",
        "spark://master:7077",
        "--name",
        "e2e-s10",
    ]
    .map(String::from)
    .to_vec();
    args.extend(driver_confs("driver", 2));
    args.extend(["--class", "e2econn.Conn", "spark-internal", "8"].map(String::from));
    let driver = cluster.start(
        pod("driver")
            .ip(20)
            .alias("driver")
            .hostname("s10-driver")
            .env("SPARK_DRIVER_BIND_ADDRESS", cluster.ip(20))
            .env("SPARK_LOCAL_DIRS", "/var/data/spark-local")
            .args(&args),
    );
    let app_id = wait_app_id(&driver);
    cluster.mark(&format!("driver connected as {app_id}"));
    let executors: Vec<Container> = (1..=2u8)
        .map(|id| {
            let pod_name = format!("s10-exec-{id}");
            let env = executor_pod_env(
                &inputs.line,
                "driver",
                &app_id,
                id.into(),
                &cluster.ip(30 + id),
                &pod_name,
                &[],
            );
            cluster.start(
                pod(&format!("exec-{id}"))
                    .ip(30 + id)
                    .hostname(&pod_name)
                    .envs(env)
                    .args(&["executor"]),
            )
        })
        .collect();
    let code = driver.wait_exit(secs(300));
    let log = driver.logs();
    assert_eq!(code, 0, "driver exit status");
    assert!(log.contains("connector sum 1001000"), "no connector result");
    let loaded = line_with(&log, "connector loaded from")
        .unwrap_or_default()
        .to_string();
    assert!(
        loaded.contains("file:/opt/spark/jars/org.e2e_dep-1.0.jar"),
        "{loaded}"
    );
    let tasks = finished_tasks(&log);
    assert!(
        tasks.get("1").is_some_and(|n| *n > 0) && tasks.get("2").is_some_and(|n| *n > 0),
        "both executors ran tasks: {tasks:?}"
    );
    for e in &executors {
        assert_eq!(e.wait_exit(secs(60)), 0, "{} exit status", e.name);
    }
    assert!(master.running());
    cluster.report(
        &inputs.images.variant,
        &format!("{}; tasks {tasks:?}", loaded.trim()),
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// s10's image, loaded: built with `--packages org.e2e:conn:1.0` from the file://
/// repository `repo`, the connector and its dependency in the report.
fn build_with_packages(
    build: &BuildInputs,
    spark_version: &str,
    work: &std::path::Path,
    repo: &std::path::Path,
) {
    let out = run(std::process::Command::new(&build.sparkimg)
        .args([
            "build",
            "-r",
            &format!("e2e-packages-{}", std::process::id()),
        ])
        .args(["-t", spark_version, "--load", "--json"])
        .arg("--spark-home")
        .arg(&build.spark_home)
        .args(["--base", &build.base])
        .arg("--entrypoint-binary")
        .arg(&build.entrypoint)
        .arg("--cache-dir")
        .arg(work.join("cache"))
        .args(["--packages", "org.e2e:conn:1.0"])
        .env(
            "DEFAULT_ARTIFACT_REPOSITORY",
            format!("file://{}/", repo.display()),
        ));
    assert!(
        out.status.success(),
        "sparkimg build --packages: {}",
        text(&out)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("org.e2e_conn-1.0.jar") && report.contains("org.e2e_dep-1.0.jar"),
        "{report}"
    );
}

/// Compiles the connector and its dependency against the distribution's jars and
/// publishes both, with POMs and `.sha1`s, into a Maven repository at `repo`.
fn connector_repository(
    spark_home: &std::path::Path,
    work: &std::path::Path,
    repo: &std::path::Path,
) {
    let src = work.join("src");
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("dep/e2edep/Dep.java", "package e2edep;\npublic final class Dep {\n  public static long twice(long x) { return 2 * x; }\n}\n");
    write(
        "conn/e2econn/Conn.java",
        "package e2econn;\n\
         import java.util.ArrayList;\nimport java.util.List;\n\
         import org.apache.spark.SparkConf;\nimport org.apache.spark.api.java.JavaSparkContext;\n\
         public final class Conn {\n\
           public static void main(String[] args) {\n\
             int slices = Integer.parseInt(args[0]);\n\
             JavaSparkContext sc = new JavaSparkContext(new SparkConf().setAppName(\"e2e-connector\"));\n\
             List<Long> xs = new ArrayList<>();\n\
             for (long i = 1; i <= 1000; i++) xs.add(i);\n\
             long sum = sc.parallelize(xs, slices).map(x -> e2edep.Dep.twice(x)).reduce(Long::sum);\n\
             List<String> from = sc.parallelize(xs, slices)\n\
               .map(x -> String.valueOf(e2edep.Dep.class.getProtectionDomain().getCodeSource().getLocation()))\n\
               .collect();\n\
             System.out.println(\"connector sum \" + sum);\n\
             System.out.println(\"connector loaded from \" + new java.util.TreeSet<>(from));\n\
             sc.stop();\n\
           }\n\
         }\n",
    );
    let classes = work.join("classes");
    let jars = format!("{}/jars/*", spark_home.display());
    for (module, cp) in [
        ("dep", String::new()),
        ("conn", format!("{jars}:{}", classes.join("dep").display())),
    ] {
        let out_dir = classes.join(module);
        let srcs: Vec<std::path::PathBuf> = walk_java(&src.join(module));
        let mut javac = std::process::Command::new("javac");
        javac.args(["--release", "11", "-d"]).arg(&out_dir);
        if !cp.is_empty() {
            javac.args(["-cp", &cp]);
        }
        run_ok(javac.args(&srcs));
        let dir = repo.join("org/e2e").join(module).join("1.0");
        std::fs::create_dir_all(&dir).unwrap();
        let jar = dir.join(format!("{module}-1.0.jar"));
        run_ok(
            std::process::Command::new("jar")
                .arg("cf")
                .arg(&jar)
                .arg("-C")
                .arg(&out_dir)
                .arg("."),
        );
        let deps = if module == "conn" {
            "<dependencies><dependency><groupId>org.e2e</groupId><artifactId>dep</artifactId><version>1.0</version></dependency></dependencies>"
        } else {
            ""
        };
        let pom = dir.join(format!("{module}-1.0.pom"));
        std::fs::write(
            &pom,
            format!("<project><modelVersion>4.0.0</modelVersion><groupId>org.e2e</groupId><artifactId>{module}</artifactId><version>1.0</version>{deps}</project>"),
        )
        .unwrap();
        for f in [&jar, &pom] {
            let sum = run_ok(std::process::Command::new("sha1sum").arg(f));
            let hex = sum.split_whitespace().next().unwrap().to_string();
            std::fs::write(format!("{}.sha1", f.display()), hex).unwrap();
        }
    }
}

fn walk_java(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_java(&p));
        } else if p.extension().is_some_and(|x| x == "java") {
            out.push(p);
        }
    }
    out
}
