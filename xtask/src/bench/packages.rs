//! `cargo xtask bench packages`: resolving and downloading 50 Maven artifacts (a
//! generated repository: a tree of POMs with parents' properties and jars, each with a
//! `.sha1`, served over loopback HTTP), with `sparkimg packages` versus what users run
//! today, `spark-submit --packages` of the fixture distribution (Ivy; its settings name
//! only that repository). Cold: an empty cache / `spark.jars.ivy` each run; cached: the
//! same again. spark-submit's time includes its JVM starts (it stops at the missing main
//! class, after retrieving the jars): that is what a pod pays at run time.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{ensure, Result};
use serde_json::json;

use super::{sync, timed, Options, Row, Stats};
use crate::util::{self, Step};

/// Modules in the generated graph.
const MODULES: usize = 50;
/// Targets: cold at least as fast as spark-submit's resolution, a cached run < 300 ms.
const MIN_SPEEDUP: f64 = 1.0;
const MAX_CACHED_NS: u64 = 300_000_000;

/// The newest Spark 3 fixture distribution (`cargo xtask fixtures` makes 3.5.x).
fn spark_home() -> Option<PathBuf> {
    let dir = util::target_dir().join("fixtures/dist");
    fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("spark-3.") && p.join("bin/spark-submit").is_file()
        })
        .max_by_key(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            crate::fixtures::final_release(
                name.trim_start_matches("spark-")
                    .trim_end_matches("-bin-hadoop3"),
            )
        })
}

/// Module `i` depends on `2i+1` and `2i+2` (a binary tree of 50), all children of one
/// parent POM that holds the version as a property.
fn generate(repo: &Path) -> Result<()> {
    let write = |rel: String, bytes: &[u8]| -> Result<()> {
        let path = repo.join(rel);
        fs::create_dir_all(path.parent().expect("a file in the repository"))?;
        fs::write(&path, bytes)?;
        let out = Command::new("sha1sum").arg(&path).output()?;
        ensure!(out.status.success(), "sha1sum {}", path.display());
        let sum = String::from_utf8_lossy(&out.stdout);
        fs::write(
            format!("{}.sha1", path.display()),
            sum.split_whitespace().next().unwrap_or(""),
        )?;
        Ok(())
    };
    write(
        "org/bench/parent/1/parent-1.pom".into(),
        b"<project><groupId>org.bench</groupId><artifactId>parent</artifactId><version>1</version>\
          <packaging>pom</packaging><properties><bench.version>1.0</bench.version></properties></project>",
    )?;
    for i in 0..MODULES {
        let deps: String = [2 * i + 1, 2 * i + 2]
            .into_iter()
            .filter(|c| *c < MODULES)
            .map(|c| format!("<dependency><groupId>org.bench</groupId><artifactId>m{c:02}</artifactId><version>${{bench.version}}</version></dependency>"))
            .collect();
        let pom = format!(
            "<project><parent><groupId>org.bench</groupId><artifactId>parent</artifactId><version>1</version></parent>\
             <artifactId>m{i:02}</artifactId><version>1.0</version><dependencies>{deps}</dependencies></project>"
        );
        write(
            format!("org/bench/m{i:02}/1.0/m{i:02}-1.0.pom"),
            pom.as_bytes(),
        )?;
        let jar: Vec<u8> = (0..64 * 1024).map(|b| (b * (i + 7)) as u8).collect();
        write(format!("org/bench/m{i:02}/1.0/m{i:02}-1.0.jar"), &jar)?;
    }
    Ok(())
}

struct Sides {
    sparkimg: PathBuf,
    spark_home: PathBuf,
    url: String,
    settings: PathBuf,
}

impl Sides {
    fn ours(&self, cache: &Path) -> Result<u64> {
        sync();
        timed(
            Command::new(&self.sparkimg)
                .args(["packages", "--packages", "org.bench:m00:1.0", "--cache-dir"])
                .arg(cache)
                .env("DEFAULT_ARTIFACT_REPOSITORY", &self.url)
                .stdout(Stdio::null()),
            "sparkimg packages",
        )
    }

    fn theirs(&self, ivy: &Path) -> Result<u64> {
        sync();
        let start = std::time::Instant::now();
        // Exits non-zero at the missing main class, after the retrieval measured here.
        Command::new(self.spark_home.join("bin/spark-submit"))
            .args(["--packages", "org.bench:m00:1.0", "--conf"])
            .arg(format!(
                "spark.jars.ivySettings={}",
                self.settings.display()
            ))
            .arg("--conf")
            .arg(format!("spark.jars.ivy={}", ivy.display()))
            .args(["--class", "NoSuchMain", "spark-internal"])
            .env("SPARK_LOCAL_IP", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let ns = start.elapsed().as_nanos() as u64;
        let got = fs::read_dir(ivy.join("jars"))
            .map(|d| d.count())
            .unwrap_or(0);
        ensure!(
            got == MODULES,
            "spark-submit retrieved {got} jars, not {MODULES}"
        );
        Ok(ns)
    }
}

pub fn run(opts: &Options) -> Result<Vec<Row>> {
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 3 });
    ensure!(runs > 0, "--runs must be positive");
    let spark_home = spark_home().filter(|_| util::have("java"));
    let Some(spark_home) = spark_home else {
        anyhow::bail!("bench packages needs java and a Spark 3 fixture (cargo xtask fixtures)");
    };
    let step = Step::start("bench: cargo build --release -p sparkimg");
    util::run(util::cargo().args(["build", "--release", "-p", "sparkimg"]))?;
    step.done();
    let dir = util::target_dir().join("bench").join("packages");
    let _ = fs::remove_dir_all(&dir);
    let repo = dir.join("repo");
    generate(&repo)?;
    let server = util::Mirror::serve(&repo, None)?;
    let settings = dir.join("ivysettings.xml");
    fs::write(
        &settings,
        format!(
            "<ivysettings><settings defaultResolver=\"repo\"/><resolvers><ibiblio name=\"repo\" \
             m2compatible=\"true\" root=\"{}\"/></resolvers></ivysettings>",
            server.url
        ),
    )?;
    let sides = Sides {
        sparkimg: util::target_dir().join("release/sparkimg"),
        spark_home,
        url: server.url.clone(),
        settings,
    };
    let step = Step::start(format!(
        "bench: packages, {MODULES} artifacts, {runs} runs per side"
    ));
    let (mut cold, mut cached, mut spark_cold, mut spark_cached) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        let (cache, ivy) = (dir.join(format!("cache-{i}")), dir.join(format!("ivy-{i}")));
        cold.push(sides.ours(&cache)?);
        spark_cold.push(sides.theirs(&ivy)?);
        cached.push(sides.ours(&cache)?);
        spark_cached.push(sides.theirs(&ivy)?);
    }
    step.done();
    drop(server);
    let _ = fs::remove_dir_all(&dir);
    Ok(rows(runs, &cold, &spark_cold, &cached, &spark_cached))
}

fn rows(
    runs: usize,
    cold: &[u64],
    spark_cold: &[u64],
    cached: &[u64],
    spark_cached: &[u64],
) -> Vec<Row> {
    let (cold, spark_cold) = (Stats::of(cold), Stats::of(spark_cold));
    let (cached, spark_cached) = (Stats::of(cached), Stats::of(spark_cached));
    let ratio = |ours: Stats, theirs: Stats| theirs.median as f64 / ours.median.max(1) as f64;
    vec![
        Row {
            label: "packages: cold, vs spark-submit".into(),
            what: format!(
                "resolve + verify + download {MODULES} Maven artifacts over loopback HTTP, empty \
                 cache (median of {runs}); ours: sparkimg packages, theirs: spark-submit --packages"
            ),
            ours: cold.describe(),
            theirs: spark_cold.describe(),
            ratio: Some(ratio(cold, spark_cold)),
            target: format!("≥ {MIN_SPEEDUP}×"),
            pass: Some(ratio(cold, spark_cold) >= MIN_SPEEDUP),
            detail: json!({ "runs": runs, "ours": cold.to_json(), "theirs": spark_cold.to_json() }),
        },
        Row {
            label: "packages: cached".into(),
            what: format!(
                "the same {MODULES} artifacts again from the cache (median of {runs}); theirs: \
                 spark-submit with the same spark.jars.ivy"
            ),
            ours: cached.describe(),
            theirs: spark_cached.describe(),
            ratio: Some(ratio(cached, spark_cached)),
            target: format!("< {}", super::ms(MAX_CACHED_NS)),
            pass: Some(cached.median < MAX_CACHED_NS),
            detail: json!({ "runs": runs, "ours": cached.to_json(), "theirs": spark_cached.to_json() }),
        },
    ]
}
