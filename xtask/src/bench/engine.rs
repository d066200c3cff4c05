//! `cargo xtask bench engine`: getting the JVM image into a Docker Engine, with
//! sparkimg's two ways of doing it against a docker-image-tool.sh-style `docker build`.
//!
//! All three sides start from the same fixture distribution and JVM base, in the same
//! run, and end with a tagged image in the daemon:
//!
//! - theirs: `docker build --no-cache` of a COPY-only Dockerfile with the whole
//!   distribution as the build context (docker-image-tool.sh's release mode);
//! - `sparkimg build --load`: daemonless, from an empty layer cache, streamed into
//!   `docker load`;
//! - `sparkimg build --engine docker -n`: sparkimg's Dockerfiles on the daemon's
//!   builder, without its cache.
//!
//! The sides take turns going first. Without --quick, each is then run once more
//! with its cache warm (docker's layer cache, sparkimg's layer cache).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Result};
use serde_json::json;

use super::build::{self, DockerImage, Inputs, Work};
use super::{Options, Row, Stats};
use crate::base;
use crate::util::{self, Step};

/// The engine issue's target: a daemonless build plus `--load` at least 3× faster than
/// `docker build`.
const MIN_LOAD_SPEEDUP: f64 = 3.0;
const TAG_PREFIX: &str = "sparkimg-bench/engine";

/// One side's timed build, and where its samples go.
type Side<'a> = (&'a dyn Fn() -> Result<u64>, &'a mut Vec<u64>);

pub fn run(opts: &Options) -> Result<Vec<Row>> {
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 3 });
    ensure!(runs > 0, "--runs must be positive");
    ensure!(
        build::docker_ok(),
        "the Docker Engine does not answer; `bench engine` builds into it"
    );
    let inputs = build::inputs()?;
    let work = Work(inputs.dir.join(format!(".work-{}", std::process::id())));
    build::remove_old_work(&inputs.dir);
    fs::create_dir_all(&work.0)?;

    let step = Step::start(format!(
        "bench: spark {} into the Docker Engine, {runs} runs per side",
        inputs.version
    ));
    let (mut cold, mut warm) = (Samples::default(), Samples::default());
    for i in 0..runs {
        // Warm caches only inform; the smoke run (--quick) leaves them out.
        let warm = (!opts.quick).then_some(&mut warm);
        round(&inputs, &work, i, &mut cold, warm)?;
    }
    step.done();
    drop(work);

    let mut rows = cold_rows(&inputs.version, runs, &cold);
    if !opts.quick {
        rows.extend(warm_rows(&inputs.version, runs, &warm));
    }
    Ok(rows)
}

/// Build times in ns of the three sides: `sparkimg build --load`, `sparkimg build
/// --engine docker` and `docker build`.
#[derive(Default)]
struct Samples {
    load: Vec<u64>,
    engine: Vec<u64>,
    docker: Vec<u64>,
}

/// Run `i`: each side once from cold, in turn, then (given `warm`) each once more with
/// its cache warm.
fn round(
    inputs: &Inputs,
    work: &Work,
    i: usize,
    cold: &mut Samples,
    warm: Option<&mut Samples>,
) -> Result<()> {
    // The whole distribution as docker-image-tool.sh sends it (hard links: the
    // same page-cached files for every side).
    let ctx = work.0.join(format!("ctx-{i}"));
    fs::create_dir_all(&ctx)?;
    let tree = ctx.join("spark");
    util::run(
        Command::new("cp")
            .arg("-al")
            .arg(&inputs.spark_home)
            .arg(&tree),
    )?;
    fs::copy(&inputs.entrypoint, ctx.join("spark-entrypoint"))?;
    fs::write(
        ctx.join("Dockerfile"),
        build::dockerfile(&inputs.version, &inputs.java_home),
    )?;
    let cache = work.0.join(format!("cache-{i}"));

    let tag = |side: &str| format!("{TAG_PREFIX}-{side}:{}-{i}", std::process::id());
    let images = [
        DockerImage(tag("load")),
        DockerImage(tag("engine")),
        DockerImage(tag("docker")),
    ];
    let ours = Ours {
        inputs,
        tree: &tree,
        cache: &cache,
    };
    // Daemonless: an empty --cache-dir is the cold build (and fills the cache the
    // warm build then reads).
    let ours_load = || ours.build(&images[0].0, false, false);
    let ours_engine = || ours.build(&images[1].0, true, true);
    let theirs = || -> Result<u64> {
        super::sync();
        build::docker_build(&ctx, &images[2].0, true)
    };
    // Take turns going first, so drift on a busy machine hits all sides alike.
    let mut order: [Side; 3] = [
        (&ours_load, &mut cold.load),
        (&ours_engine, &mut cold.engine),
        (&theirs, &mut cold.docker),
    ];
    order.rotate_left(i % 3);
    for (side, samples) in order {
        samples.push(side()?);
    }
    if let Some(warm) = warm {
        warm.load.push(ours.build(&images[0].0, false, false)?);
        warm.engine.push(ours.build(&images[1].0, true, false)?);
        super::sync();
        warm.docker
            .push(build::docker_build(&ctx, &images[2].0, false)?);
    }
    drop(images);
    fs::remove_dir_all(&ctx)?;
    let _ = fs::remove_dir_all(&cache);
    Ok(())
}

/// `sparkimg build` of one run's distribution tree.
struct Ours<'a> {
    inputs: &'a Inputs,
    tree: &'a Path,
    /// The daemonless build's layer cache.
    cache: &'a Path,
}

impl Ours<'_> {
    /// Builds image `name` (with `--engine docker`, or daemonless with `--load`), checks
    /// it is in the Docker Engine, and returns the build's time.
    fn build(&self, name: &str, engine_docker: bool, no_cache: bool) -> Result<u64> {
        let Inputs {
            version,
            entrypoint,
            sparkimg,
            base_ref,
            ..
        } = self.inputs;
        let mut cmd = Command::new(sparkimg);
        cmd.args(["build", "--spark-version", version, "--name", name])
            .arg("--spark-home")
            .arg(self.tree)
            .arg("--entrypoint-binary")
            .arg(entrypoint)
            .args(["--progress", "quiet"])
            .env("SOURCE_DATE_EPOCH", "0")
            .stdout(Stdio::null());
        if engine_docker {
            cmd.args(["--engine", "docker", "--base", base::DOCKER_IMAGE]);
        } else {
            cmd.args(["--load", "--base", base_ref])
                .arg("--cache-dir")
                .arg(self.cache);
        }
        if no_cache {
            cmd.arg("-n");
        }
        super::sync();
        let (ns, _) = build::timed_output(&mut cmd, "sparkimg build")?;
        ensure!(
            image_exists(name),
            "sparkimg build left no {name} in the Docker Engine"
        );
        Ok(ns)
    }
}

fn ratio(ours: Stats, theirs: Stats) -> f64 {
    theirs.median as f64 / ours.median.max(1) as f64
}

const THEIRS_WHAT: &str =
    "theirs: docker build --no-cache, COPY-only Dockerfile, whole distribution as context";

/// The report rows of the cold builds.
fn cold_rows(version: &str, runs: usize, cold: &Samples) -> Vec<Row> {
    let load = Stats::of(&cold.load);
    let engine = Stats::of(&cold.engine);
    let docker = Stats::of(&cold.docker);
    let load_speedup = ratio(load, docker);
    let engine_speedup = ratio(engine, docker);
    let engine_verdict = if engine_speedup < 1.0 {
        "SLOWER than docker build: the classic builder commits a container for each step; \
         sparkimg's has a COPY per layer group (4, no RUN) and one config commit, theirs 2 COPY \
         and 4 config steps"
    } else {
        "sparkimg's COPY-only Dockerfile and one config commit on the same builder"
    };
    vec![
        Row {
            label: "engine: build + --load (cold) vs docker build --no-cache".into(),
            what: format!(
                "spark {version} JVM image into the Docker Engine, cold (median of {runs}); ours: \
                 daemonless sparkimg build --load, empty layer cache; {THEIRS_WHAT}"
            ),
            ours: load.describe(),
            theirs: docker.describe(),
            ratio: Some(load_speedup),
            target: format!("≥ {MIN_LOAD_SPEEDUP}×"),
            pass: Some(load_speedup >= MIN_LOAD_SPEEDUP),
            detail: json!({ "runs": runs, "ours": load.to_json(), "theirs": docker.to_json() }),
        },
        Row {
            label: "engine: --engine docker -n vs docker build --no-cache".into(),
            what: format!(
                "spark {version} JVM image, cold (median of {runs}); ours: sparkimg build \
                 --engine docker -n ({engine_verdict}); {THEIRS_WHAT}"
            ),
            ours: engine.describe(),
            theirs: docker.describe(),
            ratio: Some(engine_speedup),
            // Issue 19: at least as fast as the COPY-only docker build.
            target: "≥ 1×".into(),
            pass: Some(engine_speedup >= 1.0),
            detail: json!({ "runs": runs, "ours": engine.to_json(), "theirs": docker.to_json() }),
        },
    ]
}

/// The report rows of the builds with warm caches.
fn warm_rows(version: &str, runs: usize, warm: &Samples) -> Vec<Row> {
    let load_warm = Stats::of(&warm.load);
    let engine_warm = Stats::of(&warm.engine);
    let docker_warm = Stats::of(&warm.docker);
    vec![
        Row {
            label: "engine: --load, warm cache vs docker build, cached".into(),
            what: format!(
                "spark {version}, nothing changed (median of {runs}); ours: sparkimg build --load \
                 from its layer cache (the load still streams every layer); theirs: docker build \
                 with its cache"
            ),
            ours: load_warm.describe(),
            theirs: docker_warm.describe(),
            ratio: Some(ratio(load_warm, docker_warm)),
            target: String::new(),
            pass: None,
            detail: json!({ "runs": runs, "ours": load_warm.to_json(), "theirs": docker_warm.to_json() }),
        },
        Row {
            label: "engine: --engine docker, cached vs docker build, cached".into(),
            what: format!(
                "spark {version}, nothing changed (median of {runs}); ours: sparkimg build \
                 --engine docker with the daemon's cache; theirs: docker build with its cache"
            ),
            ours: engine_warm.describe(),
            theirs: docker_warm.describe(),
            ratio: Some(ratio(engine_warm, docker_warm)),
            target: String::new(),
            pass: None,
            detail: json!({ "runs": runs, "ours": engine_warm.to_json(), "theirs": docker_warm.to_json() }),
        },
    ]
}

fn image_exists(name: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
