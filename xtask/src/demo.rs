//! `cargo xtask demo`: the README's first command, the main job on embedded defaults.
//!
//! It does what a user does, end to end, offline: the fixture Spark distribution (from
//! PyPI's pyspark sdist) is served by a loopback mirror; `sparkimg build` fetches it from
//! there (sha512 verified), builds the Spark image on the fixture JVM base (a Debian root
//! file system from mmdebstrap) without a daemon and `--load`s it into the Docker Engine;
//! then a container of that image runs SparkPi with role `driver`, `spark-entrypoint` as
//! its PID 1. The tools this needs (mmdebstrap for the base, javac, pip, …) are
//! installed first when missing (`prereq`). When a Docker Engine answers, the job runs
//! in a container or the demo fails; only without one is the same distribution
//! fetched with `sparkimg fetch` and SparkPi run on the host under `spark-entrypoint`
//! in its own PID namespace. A summary closes the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::fixtures::{self, Selector};
use crate::prereq::{self, For};
use crate::util::{self, Mirror, Step};
use crate::{dist, util::target_dir};

const USAGE: &str = "usage: cargo xtask demo [--spark SEL] [--slices N]";

/// What the demo did, printed at its end.
struct Summary {
    /// Image reference and size, and how long its build took (container runs only).
    image: Option<(String, u64, Duration)>,
    ran: String,
    result: String,
}

impl Summary {
    fn print(&self) {
        println!("\ndemo summary");
        match &self.image {
            Some((reference, size, took)) => {
                println!("  image:   {reference} ({})", util::human_size(*size));
                println!(
                    "  build:   {:.1} s (sparkimg build --load: built without a daemon, then loaded)",
                    took.as_secs_f64()
                );
            }
            None => println!("  image:   none (no Docker Engine answers)"),
        }
        println!("  ran in:  {}", self.ran);
        println!("  result:  {}", self.result);
    }
}

pub fn main(args: Vec<String>) -> Result<()> {
    let (selectors, slices) = parse_args(args)?;
    prereq::ensure(For::Demo)?;
    let engine = util::docker_engine();
    if engine.is_none() {
        eprintln!("demo: no Docker Engine answers; SparkPi will run on the host instead");
    }

    let fixtures = fixtures::build(&selectors)?;
    let dist = fixtures.dists.first().context("no fixture distribution")?;
    let version = dist.version.to_string();
    let entrypoint = dist::build(false)?;

    let step = Step::start(
        "demo: build sparkimg (release; about 6 min the first time on 2 cores, seconds after)",
    );
    util::run(util::cargo().args(["build", "--release", "--quiet", "-p", "sparkimg"]))?;
    let sparkimg = target_dir().join("release/sparkimg");
    step.done();

    let demo_dir = target_dir().join("demo");
    let cache = demo_dir.join("cache");
    let mirror_root = dist
        .mirror_dir
        .parent()
        .context("mirror dir has no parent")?;
    let server = Mirror::serve(mirror_root, None)?;
    let job = Job {
        version: &version,
        sparkpi_jar: &fixtures.sparkpi_jar,
        slices,
    };

    let summary = match engine {
        // A Docker Engine answers, so the job runs in a container or the demo fails:
        // a host run would hide exactly what the demo is for.
        Some(engine) => {
            eprintln!("demo: Docker Engine {engine}");
            let base = crate::base::ensure()?;
            in_a_container(&sparkimg, &entrypoint, &server, &base.tar, &cache, &job)?
        }
        None => on_the_host(&sparkimg, &entrypoint, server, &cache, &demo_dir, &job)?,
    };
    summary.print();
    Ok(())
}

fn parse_args(args: Vec<String>) -> Result<(Vec<Selector>, u32)> {
    let mut selectors = vec![Selector::Line(3, Some(5))];
    let mut slices: u32 = 10;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--spark" => {
                let value = args.next().context("--spark needs a value")?;
                selectors = Selector::parse(&value)?;
            }
            "--slices" => {
                let value = args.next().context("--slices needs a number")?;
                slices = value
                    .parse()
                    .with_context(|| format!("--slices {value:?} is not a number"))?;
            }
            other => bail!("demo: unknown option {other:?}\n{USAGE}"),
        }
    }
    Ok((selectors, slices))
}

/// The Spark job the demo runs.
struct Job<'a> {
    version: &'a str,
    sparkpi_jar: &'a Path,
    slices: u32,
}

/// The line SparkPi prints, or an error with the job's stderr.
fn result_line(output: &std::process::Output) -> Result<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    match (
        output.status.code(),
        stdout.lines().find(|l| l.contains("Pi is roughly")),
    ) {
        (Some(0), Some(line)) => Ok(line.trim().to_string()),
        (code, _) => {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            bail!("the Spark job did not print its result (exit status {code:?})")
        }
    }
}

/// Without a Docker Engine: `sparkimg fetch` the distribution and run SparkPi on the
/// host under spark-entrypoint, PID 1 of its own PID namespace when we are root.
fn on_the_host(
    sparkimg: &Path,
    entrypoint: &Path,
    server: Mirror,
    cache: &Path,
    demo_dir: &Path,
    job: &Job,
) -> Result<Summary> {
    let version = job.version;
    let step = Step::start(format!(
        "demo: sparkimg fetch {version} from {}",
        server.url
    ));
    let fetched = util::output(
        Command::new(sparkimg)
            .args(["fetch", "--spark-version", version, "--no-default-mirrors"])
            .arg("--mirror")
            .arg(&server.url)
            .arg("--cache-dir")
            .arg(cache)
            .arg("--json"),
    )?;
    step.done();
    drop(server);
    let fetched: serde_json::Value =
        serde_json::from_str(fetched.trim()).context("sparkimg fetch --json printed no JSON")?;
    let spark_home = PathBuf::from(
        fetched["path"]
            .as_str()
            .context("sparkimg fetch --json has no path")?,
    );
    println!(
        "fetched {} ({} bytes, sha512 verified: {}) into {}",
        fetched["file"].as_str().unwrap_or("?"),
        fetched["bytes"],
        fetched["sha512"].as_str().unwrap_or("?"),
        spark_home.display()
    );

    let work_dir = demo_dir.join("work-dir");
    std::fs::create_dir_all(&work_dir)?;
    let args: Vec<String> = vec![
        "driver".into(),
        "--master".into(),
        "local[2]".into(),
        "--class".into(),
        "fixture.JavaSparkPi".into(),
        "--conf".into(),
        "spark.ui.enabled=false".into(),
        job.sparkpi_jar.display().to_string(),
        job.slices.to_string(),
    ];
    let env = pod_env(&spark_home, version)?;

    println!(
        "\nthe plan (spark-entrypoint --print-plan {}):",
        args.join(" ")
    );
    let plan = util::output(
        Command::new(entrypoint)
            .arg("--print-plan")
            .args(&args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&work_dir),
    )?;
    println!("{}", plan.trim());

    let as_root = util::output(Command::new("id").arg("-u"))?.trim() == "0";
    let namespaced = as_root && util::have("unshare");
    let mut command = if namespaced {
        // A fresh PID namespace makes spark-entrypoint PID 1, as in a container.
        let mut c = Command::new("unshare");
        c.args(["--fork", "--pid", "--mount-proc", "--kill-child", "--"]);
        c.arg(entrypoint);
        c
    } else {
        Command::new(entrypoint)
    };
    command
        .args(&args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&work_dir)
        .stdin(Stdio::null());
    let step = Step::start("demo: SparkPi under spark-entrypoint (about 15 s)");
    let output = command.output().context("cannot start spark-entrypoint")?;
    step.done();
    let result = result_line(&output)?;
    Ok(Summary {
        image: None,
        ran: if namespaced {
            "the host, spark-entrypoint as PID 1 of its own PID namespace".into()
        } else {
            "the host, under spark-entrypoint (not root: no PID namespace)".into()
        },
        result,
    })
}

/// The environment a driver pod gets, reduced to what a local run needs.
fn pod_env(spark_home: &Path, version: &str) -> Result<Vec<(String, String)>> {
    let java = util::output(Command::new("sh").args(["-c", "readlink -f \"$(command -v java)\""]))
        .context("no java on PATH (install openjdk-17-jre-headless)")?;
    let java_home = Path::new(java.trim())
        .parent()
        .and_then(Path::parent)
        .context("cannot tell JAVA_HOME from java's path")?;
    let mut env = vec![
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
        (
            "HOME".to_string(),
            std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
        ),
        ("JAVA_HOME".to_string(), java_home.display().to_string()),
        ("SPARK_HOME".to_string(), spark_home.display().to_string()),
        ("SPARK_VERSION".to_string(), version.to_string()),
        (
            "SPARK_DRIVER_BIND_ADDRESS".to_string(),
            "127.0.0.1".to_string(),
        ),
        // Keep Spark off the host's other interfaces.
        ("SPARK_LOCAL_IP".to_string(), "127.0.0.1".to_string()),
    ];
    // As root, Spark roles would drop to uid 185, which has no entry in this host's
    // /etc/passwd: the entrypoint would append one. The demo must not edit the host.
    env.push(("SPARK_RUN_AS".to_string(), "root".to_string()));
    Ok(env)
}

/// Build the image daemonlessly from the mirror and the base, load it, run SparkPi in it.
fn in_a_container(
    sparkimg: &Path,
    entrypoint: &Path,
    server: &Mirror,
    base_tar: &Path,
    cache: &Path,
    job: &Job,
) -> Result<Summary> {
    let version = job.version;
    let image = format!("sparkimg-demo/spark:{version}");
    let step = Step::start(format!(
        "demo: sparkimg build {image} --load (Spark from {}, base {}; about 10 s)",
        server.url,
        base_tar.display()
    ));
    let report = util::output(
        Command::new(sparkimg)
            .args(["build", "-r", "sparkimg-demo", "-t", version])
            .args([
                "--spark-version",
                version,
                "--no-default-mirrors",
                "--mirror",
            ])
            .arg(&server.url)
            .arg("--base")
            .arg(format!("rootfs:{}", base_tar.display()))
            .arg("--entrypoint-binary")
            .arg(entrypoint)
            .arg("--cache-dir")
            .arg(cache)
            .args(["--load", "--json"]),
    )?;
    let build_time = step.done();
    let report: serde_json::Value =
        serde_json::from_str(report.trim()).context("sparkimg build --json printed no JSON")?;
    println!(
        "built {image}: {} layers ({} built, {} cached), manifest {}",
        report["layers"].as_array().map_or(0, Vec::len),
        report["layers_built"],
        report["layers_cached"],
        report["images"][0]["manifest_digest"]
            .as_str()
            .unwrap_or("?")
    );
    let size = util::output(Command::new("docker").args([
        "image",
        "inspect",
        "--format",
        "{{.Size}}",
        &image,
    ]))?;
    let size: u64 = size
        .trim()
        .parse()
        .with_context(|| format!("docker image inspect printed {size:?} as the size"))?;

    let args = [
        "driver",
        "--master",
        "local[2]",
        "--class",
        "fixture.JavaSparkPi",
        "--conf",
        "spark.ui.enabled=false",
        "/opt/demo/sparkpi.jar",
    ];
    let slices = job.slices.to_string();
    let docker_run = |extra: &[&str]| {
        let mut c = Command::new("docker");
        // Local mode needs no network at all.
        c.args(["run", "--rm", "--network", "none"])
            .args(["-e", "SPARK_DRIVER_BIND_ADDRESS=127.0.0.1"])
            .args(["-e", "SPARK_LOCAL_IP=127.0.0.1"])
            .arg("-v")
            .arg(format!(
                "{}:/opt/demo/sparkpi.jar:ro",
                job.sparkpi_jar.display()
            ))
            .arg(&image)
            .args(extra);
        c
    };
    let mut with_plan = vec!["--print-plan"];
    with_plan.extend(args);
    with_plan.push(&slices);
    println!(
        "\nthe plan in the container (spark-entrypoint --print-plan {}):",
        args.join(" ")
    );
    println!("{}", util::output(&mut docker_run(&with_plan))?.trim());

    let step =
        Step::start("demo: SparkPi in the container, spark-entrypoint as PID 1 (about 15 s)");
    let mut run_args: Vec<&str> = args.to_vec();
    run_args.push(&slices);
    let output = docker_run(&run_args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run docker")?;
    step.done();
    Ok(Summary {
        image: Some((image.clone(), size, build_time)),
        ran: format!(
            "a container of {image} (docker run --network none), spark-entrypoint as PID 1"
        ),
        result: result_line(&output)?,
    })
}
