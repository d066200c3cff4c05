//! `cargo xtask e2e`: real Spark jobs in containers built by sparkimg, with the
//! environment Spark's Kubernetes backend gives pods, on a Docker Engine.
//!
//! This prepares what a user has and then runs the `sparkimg-e2e` crate (`tests/`):
//! the fixture distribution is served by a loopback mirror and obtained with
//! `sparkimg fetch`; the images are built from it by `sparkimg build` (daemonless, into
//! `docker-archive:` files that are `docker load`ed; and, when the Docker Engine path
//! works, with `--engine docker`); then the scenarios run, two at a time, with the image
//! names in the environment, each other source's images built while the
//! scenarios before it run. Each scenario removes its containers and network, also
//! when it fails; leftovers of killed runs are removed by label at the start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::fixtures::{self, Selector};
use crate::util::{self, target_dir, Mirror, Step};
use crate::{base, dist};

const USAGE: &str = "\
usage: cargo xtask e2e [--engine auto|daemonless|docker|both] [--spark SEL] [FILTER...]
       cargo xtask e2e --lines|--all [--spark SEL] [--java N]

  --engine auto        daemonless images always; the --engine docker variant too when
                       `sparkimg build --engine docker` is implemented (default)
  --engine daemonless  only daemonless-built images
  --engine docker      only engine-built images (scenarios 1 and 6)
  --engine both        both, and fail if the engine path does not work
  --engine rebased     only images moved by `sparkimg rebase` from the shell-free base
                       onto the e2e base (scenario 1; also part of every daemonless run)
  FILTER               libtest filters (test names contain them), e.g. s1 s6
  --lines              the per-line matrix instead (issue 18): every Spark line from 3.0
                       (SEL defaults to `lines`) on each Java it supports; executors join
                       a driver on every line, the other scenarios on the newest (3.5's
                       are the plain run's);
                       writes target/e2e/report.{json,md}
  --all                the matrix with every scenario on every line
  --java N             only the matrix rows on Java N (11, 17 or 21)

Daemonless runs also build images on the shell-free base and run s1, s4, s5, s9 on them,
and on the JVM-only base (python3 from sparkimg's package layer) run s1's PySpark job.";

/// Scenarios run at once. A scenario's JVMs (driver, executors, master, worker) mostly
/// wait on each other: one uses about 1.2 of 2 cores. Each has its own containers,
/// network (a free /24), work subdirectory and loopback ports, named after it.
const SCENARIOS_AT_ONCE: usize = 2;

/// Scenarios that run on every image source (the rest run on the daemonless images).
const PER_SOURCE: &[&str] = &["s1_", "s6_"];

/// Scenarios that also run on daemonless images from the shell-free base (issue 14):
/// executors join a driver (JVM and PySpark), signals and decommissioning, random
/// UIDs, and a standalone master + worker. The others start `sh` or Spark's scripts
/// themselves.
const NOSHELL: &[&str] = &["s1_", "s4_", "s5_", "s9_"];

/// Run on images from the JVM-only base (no python3; issue 21): spark-py's python3 comes
/// from sparkimg's OS-package layer, and executors run a PySpark driver's Python tasks.
const NOPYTHON: &[&str] = &["s1_executor_pods_join_driver_pyspark"];

/// Run on images built on another base and moved onto the e2e base by `sparkimg rebase`
/// (issue 17): executors join a driver (JVM and PySpark) on the rebased image.
const REBASED: &[&str] = &["s1_"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engines {
    Auto,
    Daemonless,
    Docker,
    Both,
    /// Only the rebased images (`REBASED`).
    Rebased,
}

pub fn main(args: Vec<String>) -> Result<()> {
    let started = Instant::now();
    let Some(Args {
        engines,
        selectors,
        filters,
        matrix,
        java,
    }) = parse_args(args)?
    else {
        println!("{USAGE}");
        return Ok(());
    };

    docker_reachable()?;
    if let Some(all) = matrix {
        return crate::lines::main(all, &selectors, java);
    }
    let ctx = prepare(&selectors)?;

    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let daemonless = !matches!(engines, Engines::Docker | Engines::Rebased);
    let sources = Source::selected(engines, &filters);
    let images = daemonless.then(|| ctx.build_daemonless()).transpose()?;
    std::thread::scope(|scope| {
        // The other sources' images build (in order, one at a time) while the
        // daemonless scenarios run: a build and a `docker load` are mostly disk and one
        // core, while a scenario's JVMs mostly wait on each other.
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = &ctx;
        scope.spawn(move || {
            for (source, selected) in sources {
                if tx
                    .send((source, selected, ctx.build_source(source)))
                    .is_err()
                {
                    return;
                }
            }
        });
        if let Some(images) = &images {
            if let Err(e) = ctx.run_tests(images, &filters) {
                failures.push(format!("daemonless: {e:#}"));
            }
        }
        for (source, selected, built) in rx {
            let label = source.label();
            match built {
                Ok(Some(images)) => {
                    if let Err(e) = ctx.run_tests(&images, &selected) {
                        failures.push(format!("{label}: {e:#}"));
                    }
                }
                Ok(None) if engines == Engines::Auto => skipped.push(
                    "engine docker variant: `sparkimg build --engine docker` is not implemented yet (exit 7)"
                        .to_string(),
                ),
                Ok(None) => failures.push(format!(
                    "{label}: `sparkimg build --engine docker` is not implemented (exit 7)"
                )),
                Err(e) => failures.push(format!("{label} build: {e:#}")),
            }
        }
    });

    print_report(&ctx.report);
    for s in &skipped {
        println!("e2e: SKIPPED {s}");
    }
    println!("e2e: total {:.1}s", started.elapsed().as_secs_f64());
    if !failures.is_empty() {
        bail!("e2e failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// What `cargo xtask e2e` was asked to do.
struct Args {
    engines: Engines,
    selectors: Vec<Selector>,
    filters: Vec<String>,
    /// `--lines` (`Some(false)`) or `--all` (`Some(true)`): the per-line matrix.
    matrix: Option<bool>,
    /// `--java N`: only the matrix rows on that Java.
    java: Option<u32>,
}

/// The command line; `None` for `--help`.
fn parse_args(args: Vec<String>) -> Result<Option<Args>> {
    let mut engines = Engines::Auto;
    let mut selectors = None;
    let mut filters: Vec<String> = Vec::new();
    let mut matrix = None;
    let mut java = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--lines" => matrix = Some(matrix.unwrap_or(false)),
            "--java" => {
                let n = args.next().context("--java needs a value")?;
                java = Some(n.parse().with_context(|| format!("bad --java {n:?}"))?);
            }
            "--all" => matrix = Some(true),
            "--engine" => {
                engines = match args.next().as_deref() {
                    Some("auto") => Engines::Auto,
                    Some("daemonless") => Engines::Daemonless,
                    Some("docker") => Engines::Docker,
                    Some("both") => Engines::Both,
                    Some("rebased") => Engines::Rebased,
                    other => bail!("e2e: bad --engine {other:?}\n{USAGE}"),
                }
            }
            "--spark" => {
                selectors = Some(Selector::parse(
                    &args.next().context("--spark needs a value")?,
                )?);
            }
            "-h" | "--help" => return Ok(None),
            f if !f.starts_with('-') => filters.push(f.to_string()),
            other => bail!("e2e: unknown option {other:?}\n{USAGE}"),
        }
    }

    if matrix.is_some() && !filters.is_empty() {
        bail!("e2e: --lines and --all take no filters\n{USAGE}");
    }
    let selectors = selectors.unwrap_or_else(|| match matrix {
        Some(_) => vec![Selector::EveryLine],
        None => vec![Selector::Line(3, Some(5))],
    });
    Ok(Some(Args {
        engines,
        selectors,
        filters,
        matrix,
        java,
    }))
}

/// What a user has before the scenarios: the fixtures, the JVM base in the Docker
/// Engine, spark-entrypoint, a release sparkimg and the distribution it fetched.
fn prepare(selectors: &[Selector]) -> Result<Ctx> {
    let fixtures = fixtures::build(selectors)?;
    let dist = fixtures.dists.first().context("no fixture distribution")?;
    let version = dist.version.to_string();
    let base = base::ensure()?;
    base::docker_import(&base)?;
    let entrypoint = dist::build(false)?;

    let step = Step::start("e2e: build sparkimg (release)");
    util::run(util::cargo().args(["build", "--release", "--quiet", "-p", "sparkimg"]))?;
    let sparkimg = target_dir().join("release/sparkimg");
    step.done();

    let dir = target_dir().join("e2e");
    std::fs::create_dir_all(&dir)?;
    let cache = dir.join("cache");
    let report = dir.join("report.jsonl");
    let _ = std::fs::remove_file(&report);

    // What a user does: fetch the release from a mirror (here a loopback one).
    let mirror_root = dist
        .mirror_dir
        .parent()
        .context("mirror dir has no parent")?;
    let server = Mirror::serve(mirror_root, None)?;
    let step = Step::start(format!("e2e: sparkimg fetch {version} from {}", server.url));
    let spark_home = util::output(
        Command::new(&sparkimg)
            .args(["fetch", "--spark-version", &version, "--no-default-mirrors"])
            .arg("--mirror")
            .arg(&server.url)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["--progress", "quiet"]),
    )?;
    let spark_home = PathBuf::from(spark_home.trim());
    step.done();
    drop(server);

    Ok(Ctx {
        sparkimg,
        spark_home,
        version,
        entrypoint,
        base_tar: base.tar.clone(),
        executor_java_options: dist.jobs.executor_java_options.join(" "),
        cache,
        dir,
        fixtures_dir: fixtures
            .sparkpi_jar
            .parent()
            .context("sparkpi.jar has no parent")?
            .to_path_buf(),
        report,
    })
}

/// An image source the scenarios run on besides the daemonless images of the e2e base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Daemonless on the shell-free base (`NOSHELL`).
    NoShell,
    /// Daemonless on the JVM-only base (`NOPYTHON`).
    NoPython,
    /// Moved onto the e2e base by `sparkimg rebase` (`REBASED`).
    Rebased,
    /// `--engine docker` (`PER_SOURCE`).
    Engine,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::NoShell => "noshell",
            Source::NoPython => "nopython",
            Source::Rebased => "rebased",
            Source::Engine => "engine docker",
        }
    }

    fn scenarios(self) -> &'static [&'static str] {
        match self {
            Source::NoShell => NOSHELL,
            Source::NoPython => NOPYTHON,
            Source::Rebased => REBASED,
            Source::Engine => PER_SOURCE,
        }
    }

    /// The sources `engines` asks for, in the order they build and run, each with the
    /// libtest filters it runs (sources none of whose scenarios are asked for left out).
    fn selected(engines: Engines, filters: &[String]) -> Vec<(Source, Vec<String>)> {
        let daemonless = !matches!(engines, Engines::Docker | Engines::Rebased);
        let engine = !matches!(engines, Engines::Daemonless | Engines::Rebased);
        [
            (Source::NoShell, daemonless),
            (Source::NoPython, daemonless),
            (Source::Rebased, engines != Engines::Docker),
            (Source::Engine, engine),
        ]
        .into_iter()
        .filter(|(_, wanted)| *wanted)
        .map(|(source, _)| (source, among(source.scenarios(), filters)))
        .filter(|(_, selected)| !selected.is_empty())
        .collect()
    }
}

impl Ctx {
    /// `source`'s images; `None` when `--engine docker` says it is not implemented.
    fn build_source(&self, source: Source) -> Result<Option<Images>> {
        match source {
            Source::NoShell => {
                let built = base::ensure_variant(&base::NOSHELL)?;
                self.build_on(&built.tar, "noshell").map(Some)
            }
            Source::NoPython => {
                let built = base::ensure_variant(&base::JVM_ONLY)?;
                self.build_on(&built.tar, "nopython").map(Some)
            }
            Source::Rebased => self.build_rebased().map(Some),
            Source::Engine => self.build_engine(),
        }
    }
}

/// The libtest filters for `scenarios`: all of them without user filters, else the
/// user's filters that name one of them.
fn among(scenarios: &[&str], filters: &[String]) -> Vec<String> {
    if filters.is_empty() {
        return scenarios.iter().map(|s| s.to_string()).collect();
    }
    filters
        .iter()
        .filter(|f| scenarios.iter().any(|s| f.starts_with(&s[..2])))
        .cloned()
        .collect()
}

fn docker_reachable() -> Result<()> {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker` (the e2e suite needs a Docker Engine)")?;
    if !out.status.success() {
        bail!(
            "no Docker Engine answers (the e2e suite needs one): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    eprintln!(
        "e2e: Docker Engine {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    Ok(())
}

struct Ctx {
    sparkimg: PathBuf,
    spark_home: PathBuf,
    version: String,
    entrypoint: PathBuf,
    base_tar: PathBuf,
    /// What the line's driver gives executors (fixtures' executor-java-options.txt).
    executor_java_options: String,
    cache: PathBuf,
    dir: PathBuf,
    fixtures_dir: PathBuf,
    report: PathBuf,
}

/// The images one build path produced, as the tests get them.
struct Images {
    variant: &'static str,
    spark: String,
    spark_py: String,
    spark_tz: String,
    archives: Vec<PathBuf>,
}

impl Ctx {
    fn build_cmd(&self, repo: &str) -> Command {
        let mut c = Command::new(&self.sparkimg);
        c.args(["build", "-r", repo, "-t", &self.version])
            .arg("--spark-home")
            .arg(&self.spark_home)
            .arg("--entrypoint-binary")
            .arg(&self.entrypoint)
            .arg("--cache-dir")
            .arg(&self.cache);
        c
    }

    /// Daemonless: JVM + PySpark images (UTC) and a JVM image in Asia/Shanghai, written
    /// as docker-archive files and `docker load`ed.
    fn build_daemonless(&self) -> Result<Images> {
        let out = self.dir.join("daemonless");
        std::fs::create_dir_all(&out)?;
        let images_tar = out.join("images.tar");
        let tz_tar = out.join("tz.tar");
        let base = format!("rootfs:{}", self.base_tar.display());
        for (repo, python, zone, tar) in [
            ("e2e", true, "UTC", &images_tar),
            ("e2e-tz", false, "Asia/Shanghai", &tz_tar),
        ] {
            let step = Step::start(format!(
                "e2e: sparkimg build -r {repo} (daemonless, {zone})"
            ));
            // A leftover archive from an earlier run is ours: sparkimg may refuse to
            // overwrite a file it cannot tell it wrote.
            let _ = std::fs::remove_file(tar);
            let mut cmd = self.build_cmd(repo);
            if python {
                cmd.arg("-p");
            }
            cmd.args(["--base", &base, "--timezone", zone])
                .arg("--output")
                .arg(format!("docker-archive:{}", tar.display()));
            util::run(&mut cmd)?;
            step.done();
            let step = Step::start(format!("e2e: docker load -i {}", tar.display()));
            util::run(Command::new("docker").args(["load", "-q", "-i"]).arg(tar))?;
            step.done();
        }
        Ok(Images {
            variant: "daemonless",
            spark: format!("e2e/spark:{}", self.version),
            spark_py: format!("e2e/spark-py:{}", self.version),
            spark_tz: format!("e2e-tz/spark:{}", self.version),
            archives: vec![images_tar, tz_tar],
        })
    }

    /// Daemonless JVM + PySpark images (UTC) on another fixture base (`label`: the
    /// shell-free or the JVM-only one), `docker load`ed as `e2e-<label>/…`.
    fn build_on(&self, base_tar: &Path, label: &'static str) -> Result<Images> {
        let out = self.dir.join(label);
        std::fs::create_dir_all(&out)?;
        let tar = out.join("images.tar");
        let _ = std::fs::remove_file(&tar);
        let repo = format!("e2e-{label}");
        let step = Step::start(format!(
            "e2e: sparkimg build -r {repo} (daemonless, {label})"
        ));
        let mut cmd = self.build_cmd(&repo);
        cmd.arg("-p")
            .args(["--base", &format!("rootfs:{}", base_tar.display())])
            .arg("--output")
            .arg(format!("docker-archive:{}", tar.display()));
        util::run(&mut cmd)?;
        step.done();
        let step = Step::start(format!("e2e: docker load -i {}", tar.display()));
        util::run(Command::new("docker").args(["load", "-q", "-i"]).arg(&tar))?;
        step.done();
        let spark = format!("{repo}/spark:{}", self.version);
        Ok(Images {
            variant: label,
            spark_py: format!("{repo}/spark-py:{}", self.version),
            // No time-zone scenario runs on these bases.
            spark_tz: spark.clone(),
            spark,
            archives: vec![tar],
        })
    }

    /// JVM + PySpark images built on the shell-free base, then moved onto the e2e base by
    /// `sparkimg rebase` (what a patched base does to deployed images), `docker load`ed
    /// as `e2e-rebased/…`.
    fn build_rebased(&self) -> Result<Images> {
        let old = base::ensure_variant(&base::NOSHELL)?;
        let out = self.dir.join("rebased");
        std::fs::create_dir_all(&out)?;
        let layout = out.join("built");
        let _ = std::fs::remove_dir_all(&layout);
        let src = "e2e-rebase-src";
        let step = Step::start(format!("e2e: sparkimg build -r {src} (shell-free base)"));
        let mut cmd = self.build_cmd(src);
        cmd.arg("-p")
            .args(["--base", &format!("rootfs:{}", old.tar.display())])
            .arg("--output")
            .arg(format!("oci:{}", layout.display()));
        util::run(&mut cmd)?;
        step.done();
        let mut archives = Vec::new();
        for image in ["spark", "spark-py"] {
            let to = format!("e2e-rebased/{image}:{}", self.version);
            let tar = out.join(format!("{image}.tar"));
            let _ = std::fs::remove_file(&tar);
            let step = Step::start(format!("e2e: sparkimg rebase {src}/{image} -> {to}"));
            util::run(
                Command::new(&self.sparkimg)
                    .arg("rebase")
                    .arg(format!(
                        "oci:{}:{src}/{image}:{}",
                        layout.display(),
                        self.version
                    ))
                    .arg("--base")
                    .arg(format!("rootfs:{}", self.base_tar.display()))
                    .args(["--to", &to])
                    .arg("--output")
                    .arg(format!("docker-archive:{}", tar.display()))
                    .arg("--cache-dir")
                    .arg(&self.cache),
            )?;
            step.done();
            let step = Step::start(format!("e2e: docker load -i {}", tar.display()));
            util::run(Command::new("docker").args(["load", "-q", "-i"]).arg(&tar))?;
            step.done();
            archives.push(tar);
        }
        let spark = format!("e2e-rebased/spark:{}", self.version);
        Ok(Images {
            variant: "rebased",
            spark_py: format!("e2e-rebased/spark-py:{}", self.version),
            spark_tz: spark.clone(),
            spark,
            archives,
        })
    }

    /// `--engine docker` from the imported fixture base; `None` when that path says it
    /// is not implemented (exit 7).
    fn build_engine(&self) -> Result<Option<Images>> {
        for (repo, python, zone) in [
            ("e2e-engine", true, "UTC"),
            ("e2e-engine-tz", false, "Asia/Shanghai"),
        ] {
            let step = Step::start(format!(
                "e2e: sparkimg build --engine docker -r {repo} ({zone})"
            ));
            let mut cmd = self.build_cmd(repo);
            if python {
                cmd.arg("-p");
            }
            cmd.args([
                "--engine",
                "docker",
                "--base",
                base::DOCKER_IMAGE,
                "--timezone",
                zone,
            ]);
            eprintln!("$ {cmd:?}");
            let status = cmd.status().context("cannot start sparkimg")?;
            if status.code() == Some(7) {
                eprintln!("e2e: `sparkimg build --engine docker` exited 7 (not implemented yet)");
                return Ok(None);
            }
            if !status.success() {
                bail!("sparkimg build --engine docker -r {repo} failed: {status}");
            }
            step.done();
        }
        Ok(Some(Images {
            variant: "docker",
            spark: format!("e2e-engine/spark:{}", self.version),
            spark_py: format!("e2e-engine/spark-py:{}", self.version),
            spark_tz: format!("e2e-engine-tz/spark:{}", self.version),
            archives: Vec::new(),
        }))
    }

    fn run_tests(&self, images: &Images, filters: &[String]) -> Result<()> {
        let step = Step::start(format!("e2e: scenarios on {} images", images.variant));
        let archives: Vec<String> = images
            .archives
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut cmd = util::cargo();
        cmd.args(["test", "-p", "sparkimg-e2e", "--test", "e2e", "--"])
            .args(["--ignored", &format!("--test-threads={SCENARIOS_AT_ONCE}")])
            .arg("--nocapture")
            .args(filters)
            .env("SPARKIMG_E2E_VARIANT", images.variant)
            .env("SPARKIMG_E2E_IMAGE", &images.spark)
            .env("SPARKIMG_E2E_PY_IMAGE", &images.spark_py)
            .env("SPARKIMG_E2E_TZ_IMAGE", &images.spark_tz)
            .env("SPARKIMG_E2E_ARCHIVES", archives.join(":"))
            .env("SPARKIMG_E2E_FIXTURES", &self.fixtures_dir)
            .env("SPARKIMG_E2E_WORK", self.dir.join("work"))
            .env("SPARKIMG_E2E_SPARKIMG", &self.sparkimg)
            .env("SPARKIMG_E2E_SPARK_HOME", &self.spark_home)
            .env(
                "SPARKIMG_E2E_BASE",
                format!("rootfs:{}", self.base_tar.display()),
            )
            .env("SPARKIMG_E2E_ENTRYPOINT", &self.entrypoint)
            .env("SPARKIMG_E2E_SPARK_VERSION", &self.version)
            .env(
                "SPARKIMG_E2E_EXECUTOR_JAVA_OPTIONS",
                &self.executor_java_options,
            )
            .env("SPARKIMG_E2E_REPORT", &self.report);
        let result = util::run(&mut cmd);
        step.done();
        result
    }
}

fn print_report(path: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        println!("e2e: no scenario passed (no {})", path.display());
        return;
    };
    println!("\ne2e results (passed scenarios; see above for failures):");
    println!(
        "{:<8} {:<11} {:>8}  summary",
        "scenario", "images", "seconds"
    );
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        println!(
            "{:<8} {:<11} {:>8}  {}",
            v["scenario"].as_str().unwrap_or("?"),
            v["variant"].as_str().unwrap_or("?"),
            v["seconds"],
            v["summary"].as_str().unwrap_or("")
        );
    }
}
