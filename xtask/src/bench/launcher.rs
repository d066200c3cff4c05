//! The real-JVM half of `cargo xtask bench entrypoint`: a driver pod's start → its
//! application's `main`, with real Spark, through spark-entrypoint (which runs Spark's
//! launcher itself) versus upstream's `bin/spark-submit` (bash: spark-submit →
//! spark-class → load-spark-env.sh → the same launcher). Both sides get the same
//! argv (the one `spark-entrypoint --print-plan driver …` says upstream would exec)
//! and the same environment; the application writes `System.nanoTime()` (the
//! harness's CLOCK_MONOTONIC) when its `main` starts.
//!
//! Also the shell-free fixture base against the normal one: size and package count.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use super::{Row, Stats};
use crate::util::{self, human_size, Step};

const BENCH_MAIN: &str = include_str!("../../assets/bench/BenchMain.java");

/// The jar with `BenchMain`, compiled once per source.
fn bench_jar(dir: &Path) -> Result<PathBuf> {
    let jar = dir.join("benchmain.jar");
    let stamp = dir.join("benchmain.jar.stamp");
    let key = format!("{:016x}", util::fnv64(&[BENCH_MAIN.as_bytes()]));
    if jar.is_file() && fs::read_to_string(&stamp).is_ok_and(|s| s == key) {
        return Ok(jar);
    }
    let work = dir.join("benchmain-src");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(work.join("classes"))?;
    let source = work.join("BenchMain.java");
    fs::write(&source, BENCH_MAIN)?;
    util::run(
        Command::new("javac")
            .args(["--release", "8", "-Xlint:-options", "-d"])
            .arg(work.join("classes"))
            .arg(&source),
    )?;
    let tmp = util::temp_sibling(&jar);
    util::run(
        Command::new("jar")
            .args(["--create", "--file"])
            .arg(&tmp)
            .arg("-C")
            .arg(work.join("classes"))
            .arg("."),
    )?;
    fs::rename(&tmp, &jar)?;
    fs::remove_dir_all(&work)?;
    util::write_atomic(&stamp, key.as_bytes())?;
    Ok(jar)
}

/// The JDK the host's `java` belongs to.
fn java_home() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let java = std::env::split_paths(&path)
        .map(|d| d.join("java"))
        .find(|p| p.is_file())
        .context("no `java` on PATH (the real-JVM driver benchmark needs a JRE)")?;
    let java = fs::canonicalize(&java)?;
    Ok(java
        .parent()
        .and_then(Path::parent)
        .context("odd java path")?
        .to_path_buf())
}

/// Rows for the driver start → main comparison and the base images.
pub fn rows(entrypoint: &Path, spark_home: &Path, runs: usize) -> Result<Vec<Row>> {
    let dir = util::target_dir().join("bench").join("launcher");
    fs::create_dir_all(&dir)?;
    let jar = bench_jar(&dir)?;
    let work = dir.join("work-dir");
    fs::create_dir_all(&work)?;
    let stamp = work.join("main-started");
    let env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME".into(), work.display().to_string()),
        ("JAVA_HOME".into(), java_home()?.display().to_string()),
        ("SPARK_HOME".into(), spark_home.display().to_string()),
        ("SPARK_DRIVER_BIND_ADDRESS".into(), "127.0.0.1".into()),
        ("SPARK_LOCAL_IP".into(), "127.0.0.1".into()),
        ("XTASK_BENCH_STAMP".into(), stamp.display().to_string()),
        // Started as root, the entrypoint would switch to 185, which cannot enter a
        // checkout under a private (0700) directory; keep the invoking user instead.
        ("SPARK_RUN_AS".into(), "root".into()),
    ];
    let app = [
        "--master",
        "local[1]",
        "--class",
        "BenchMain",
        &jar.display().to_string(),
    ]
    .map(String::from);
    let mut ours = vec![entrypoint.display().to_string(), "driver".into()];
    ours.extend(app.iter().cloned());
    // Upstream's argv for the same pod, as our planner records it.
    let mut plan_cmd = vec![ours[0].clone(), "--print-plan".into()];
    plan_cmd.extend(ours[1..].iter().cloned());
    let plan = run_side(&plan_cmd, &env, &work, None)?;
    let plan: Value = serde_json::from_str(plan.trim()).context("--print-plan output")?;
    let theirs: Vec<String> = plan["argv"]
        .as_array()
        .context("plan has no argv")?
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect();
    ensure!(
        theirs
            .first()
            .is_some_and(|p| p.ends_with("/bin/spark-submit")),
        "the driver plan does not run spark-submit: {theirs:?}"
    );

    let step = Step::start(format!(
        "bench: real driver start → main, {runs} runs per side"
    ));
    let mut samples = [Vec::new(), Vec::new()];
    for i in 0..runs + 1 {
        // Alternate which side goes first, so a busy machine's drift hits both alike.
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let argv = if side == 0 { &ours } else { &theirs };
            let ns = time_to_main(argv, &env, &work, &stamp)?;
            // The first round warms the page cache (Spark's jars) for both.
            if i > 0 {
                samples[side].push(ns);
            }
        }
    }
    step.done();
    let (o, t) = (Stats::of(&samples[0]), Stats::of(&samples[1]));
    let mut rows = vec![Row {
        label: "entrypoint: driver start → JVM main (real Spark)".into(),
        what: format!(
            "driver pod, real Spark and JVM: start → application main (median of {runs}); ours runs Spark's launcher itself, theirs is bin/spark-submit (bash + the launcher)"
        ),
        ours: o.describe(),
        theirs: t.describe(),
        ratio: Some(t.median as f64 / o.median.max(1) as f64),
        target: String::new(),
        pass: None,
        detail: json!({ "runs": runs, "ours": o.to_json(), "theirs": t.to_json(), "theirs_argv": theirs }),
    }];
    rows.extend(base_rows()?);
    Ok(rows)
}

fn side_command(argv: &[String], env: &[(String, String)], work: &Path) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(work)
        .stdin(Stdio::null());
    cmd
}

/// Runs one side to completion; its stdout, or an error with all it printed.
fn run_side(
    argv: &[String],
    env: &[(String, String)],
    work: &Path,
    start: Option<&mut u64>,
) -> Result<String> {
    let mut cmd = side_command(argv, env, work);
    if let Some(start) = start {
        *start = super::entrypoint::monotonic_ns();
    }
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {}", argv[0]))?;
    if !out.status.success() {
        bail!(
            "{argv:?} exited with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn time_to_main(
    argv: &[String],
    env: &[(String, String)],
    work: &Path,
    stamp: &Path,
) -> Result<u64> {
    let _ = fs::remove_file(stamp);
    let mut start = 0;
    run_side(argv, env, work, Some(&mut start))?;
    let text = fs::read_to_string(stamp)
        .with_context(|| format!("{argv:?} exited 0 but BenchMain never ran"))?;
    let main: u64 = text.trim().parse().context("unreadable BenchMain stamp")?;
    ensure!(main >= start, "BenchMain's clock is before the start");
    Ok(main - start)
}

/// The shell-free fixture base against the normal one (`cargo xtask fixtures --base`
/// builds both; cached here).
fn base_rows() -> Result<Vec<Row>> {
    let full = crate::base::ensure_variant(&crate::base::FULL)?;
    let noshell = crate::base::ensure_variant(&crate::base::NOSHELL)?;
    let count = |meta: &Path| -> Result<u64> {
        let v: Value = serde_json::from_slice(&fs::read(meta)?)?;
        v["package_count"]
            .as_u64()
            .with_context(|| format!("no package_count in {}", meta.display()))
    };
    let (full_n, noshell_n) = (count(&full.meta)?, count(&noshell.meta)?);
    Ok(vec![
        Row {
            label: "base: shell-free vs normal, size".into(),
            what: format!(
                "fixture base root file system size: {} vs {}",
                crate::base::NOSHELL.name,
                crate::base::FULL.name
            ),
            ours: format!("{} ({} B)", human_size(noshell.size), noshell.size),
            theirs: format!("{} ({} B)", human_size(full.size), full.size),
            ratio: Some(full.size as f64 / noshell.size.max(1) as f64),
            target: String::new(),
            pass: None,
            detail: json!({ "noshell_bytes": noshell.size, "full_bytes": full.size }),
        },
        Row {
            label: "base: shell-free vs normal, packages".into(),
            what: "installed Debian packages in the fixture base (no bash, no dash)".into(),
            ours: noshell_n.to_string(),
            theirs: full_n.to_string(),
            ratio: Some(full_n as f64 / noshell_n.max(1) as f64),
            target: String::new(),
            pass: None,
            detail: json!({ "noshell_packages": noshell_n, "full_packages": full_n }),
        },
    ])
}
