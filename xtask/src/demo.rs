//! `cargo xtask demo`: the README's first command, the main job on embedded defaults.
//!
//! It does what a user does, end to end, offline: the fixture Spark distribution (from
//! PyPI's pyspark sdist) is served by a loopback mirror, `sparkimg fetch` downloads,
//! verifies and extracts it, and `spark-entrypoint` — the static binary that is PID 1 in
//! our images — plans and supervises a real Spark job (`driver` role, client mode,
//! `local[2]` master), in its own PID namespace when we are root.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::fixtures::{self, Selector};
use crate::util::{self, Step};
use crate::{dist, util::target_dir};

const USAGE: &str = "usage: cargo xtask demo [--spark SEL] [--slices N]";

pub fn main(args: Vec<String>) -> Result<()> {
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

    let fixtures = fixtures::build(&selectors)?;
    let dist = fixtures.dists.first().context("no fixture distribution")?;
    let version = dist.version.to_string();
    let entrypoint = dist::build(false)?;

    let step = Step::start("demo: build sparkimg (release)");
    util::run(util::cargo().args(["build", "--release", "--quiet", "-p", "sparkimg"]))?;
    let sparkimg = target_dir().join("release/sparkimg");
    step.done();

    let demo_dir = target_dir().join("demo");
    let cache = demo_dir.join("cache");
    let mirror_root = dist
        .mirror_dir
        .parent()
        .context("mirror dir has no parent")?;
    let server = Mirror::serve(mirror_root)?;

    let step = Step::start(format!(
        "demo: sparkimg fetch {version} from {}",
        server.url
    ));
    let fetched = util::output(
        Command::new(&sparkimg)
            .args(["fetch", "--spark-version", &version, "--no-default-mirrors"])
            .arg("--mirror")
            .arg(&server.url)
            .arg("--cache-dir")
            .arg(&cache)
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
        fixtures.sparkpi_jar.display().to_string(),
        slices.to_string(),
    ];
    let env = pod_env(&spark_home, &version)?;

    println!(
        "\nthe plan (spark-entrypoint --print-plan {}):",
        args.join(" ")
    );
    let plan = util::output(
        Command::new(&entrypoint)
            .arg("--print-plan")
            .args(&args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&work_dir),
    )?;
    println!("{}", plan.trim());

    let as_root = util::output(Command::new("id").arg("-u"))?.trim() == "0";
    let mut command = if as_root && util::have("unshare") {
        // A fresh PID namespace makes spark-entrypoint PID 1, as in a container.
        let mut c = Command::new("unshare");
        c.args(["--fork", "--pid", "--mount-proc", "--kill-child", "--"]);
        c.arg(&entrypoint);
        c
    } else {
        Command::new(&entrypoint)
    };
    command
        .args(&args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&work_dir)
        .stdin(Stdio::null());
    let step = Step::start("demo: SparkPi under spark-entrypoint (PID 1)");
    let output = command.output().context("cannot start spark-entrypoint")?;
    step.done();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = stdout.lines().find(|l| l.contains("Pi is roughly"));
    match (output.status.code(), result) {
        (Some(0), Some(line)) => {
            println!("\n{line}");
            println!("(exit status 0: Spark {version}, fetched and verified by sparkimg, run by spark-entrypoint)");
            Ok(())
        }
        (code, _) => {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            bail!("the Spark job did not print its result (exit status {code:?})")
        }
    }
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

/// A loopback HTTP server for the fixture mirror (Python's, which every CI machine has).
struct Mirror {
    child: Child,
    url: String,
}

impl Mirror {
    fn serve(dir: &Path) -> Result<Mirror> {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start python3 -m http.server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        // "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .with_context(|| format!("unexpected http.server banner {line:?}"))?;
        Ok(Mirror {
            url: format!("http://127.0.0.1:{port}/"),
            child,
        })
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
