//! `cargo xtask bench fetch`: getting a Spark distribution onto disk, verified and
//! unpacked, with `sparkimg fetch` versus the shell pipeline people write today:
//!
//! ```sh
//! curl -fsSL -o f.tgz URL && curl -fsSL -o f.tgz.sha512 URL.sha512 \
//!   && sha512sum -c f.tgz.sha512 && tar xzf f.tgz
//! ```
//!
//! Both sides fetch the fixture distribution (`cargo xtask fixtures`) from the same
//! loopback HTTP server (`python3 -m http.server` on 127.0.0.1; it reaches >1 GB/s
//! here, far above what either side consumes), into fresh directories on the same
//! file system, with the file already in the page cache. A plain `curl -o /dev/null`
//! of the tarball is reported as the floor: what moving the bytes alone costs.
//! The sides alternate which goes first, and `sync` runs (untimed) before each timed
//! command so one side's dirty pages are not written back on the other's clock.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use super::{sync, Options, Row, Stats};
use crate::fixtures::{final_release, Selector};
use crate::util::{self, human_size, Step};
use spark_version::SparkVersion;

/// The targets from the fetch issue: cold at least 1.5× faster than the pipeline,
/// and a cache hit under 50 ms.
const MIN_SPEEDUP: f64 = 1.5;
const MAX_CACHED_NS: u64 = 50_000_000;
/// Cache hits are cheap, so each cold run is followed by this many of them.
const CACHED_PER_RUN: usize = 5;

/// Proxy variables that would send curl (or sparkimg) off the loopback.
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

pub fn run(opts: &Options) -> Result<Vec<Row>> {
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 3 });
    ensure!(runs > 0, "--runs must be positive");
    for tool in ["curl", "sha512sum", "tar", "python3"] {
        ensure!(
            util::have(tool),
            "{tool} is missing (the pipeline side and the server need it)"
        );
    }
    let (version, mirror) = fixture()?;
    let base = format!("spark-{version}-bin-hadoop3");
    let tgz = mirror
        .join(format!("spark-{version}"))
        .join(format!("{base}.tgz"));
    let tgz_size = fs::metadata(&tgz)?.len();

    let step = Step::start("bench: cargo build --release -p sparkimg");
    util::run(util::cargo().args(["build", "--release", "-p", "sparkimg"]))?;
    let sparkimg = util::target_dir().join("release/sparkimg");
    step.done();

    let dir = util::target_dir().join("bench").join("fetch");
    fs::create_dir_all(&dir)?;
    util::remove_stale_temporaries(&dir);
    let work = Work(dir.join(format!(".work-{}", std::process::id())));
    fs::create_dir_all(&work.0)?;

    let server = util::Mirror::serve(&mirror, Some(&work.0.join("http.log")))?;
    let mirror_url = format!("http://127.0.0.1:{}/", server.port);
    let url = format!("{mirror_url}spark-{version}/{base}.tgz");
    eprintln!("bench: serving {} at {mirror_url}", mirror.display());

    // Page cache: read the file once, then one untimed transfer warms the server.
    fs::File::open(&tgz).and_then(|mut f| std::io::copy(&mut f, &mut std::io::sink()))?;
    curl_to_null(&url)?;

    let pipeline = format!(
        "curl -fsSL -o {base}.tgz {url} && curl -fsSL -o {base}.tgz.sha512 {url}.sha512 \
         && sha512sum -c {base}.tgz.sha512 && tar xzf {base}.tgz"
    );
    let step = Step::start(format!(
        "bench: fetch spark {version} ({}), {runs} runs per side",
        human_size(tgz_size)
    ));
    let sides = Sides {
        sparkimg: &sparkimg,
        version: &version,
        mirror_url: &mirror_url,
        url: &url,
        base: &base,
        pipeline: &pipeline,
    };
    let mut samples = Samples::default();
    for i in 0..runs {
        sides.round(&work, i, &mut samples)?;
    }
    step.done();
    drop(server);
    drop(work);
    Ok(rows(&version, tgz_size, runs, &samples))
}

/// Times in ns: `curl -o /dev/null`, cold `sparkimg fetch`, the shell pipeline, and
/// cached `sparkimg fetch`.
#[derive(Default)]
struct Samples {
    raw: Vec<u64>,
    cold: Vec<u64>,
    shell: Vec<u64>,
    cached: Vec<u64>,
}

/// What the two sides fetch, and how.
struct Sides<'a> {
    sparkimg: &'a Path,
    version: &'a SparkVersion,
    mirror_url: &'a str,
    /// The tarball's URL on the mirror.
    url: &'a str,
    /// The tarball's name without `.tgz` (the folder it unpacks to).
    base: &'a str,
    /// The shell pipeline, run in an empty directory.
    pipeline: &'a str,
}

impl Sides<'_> {
    /// Run `i`: the raw transfer, both sides cold (in turns), then the cache hits.
    fn round(&self, work: &Work, i: usize, s: &mut Samples) -> Result<()> {
        s.raw.push(curl_to_null(self.url)?);
        let cache = work.0.join(format!("cache-{i}"));
        let out = work.0.join(format!("pipeline-{i}"));
        fs::create_dir_all(&out)?;
        // Alternate who goes first, so drift on a busy machine hits both alike.
        if i.is_multiple_of(2) {
            s.cold.push(self.ours(&cache)?);
            s.shell.push(self.theirs(&out)?);
        } else {
            s.shell.push(self.theirs(&out)?);
            s.cold.push(self.ours(&cache)?);
        }
        sync();
        for _ in 0..CACHED_PER_RUN {
            let (ns, _) = sparkimg_fetch(self.sparkimg, self.version, self.mirror_url, &cache)?;
            s.cached.push(ns);
        }
        // Untimed: the next run starts from empty directories again.
        fs::remove_dir_all(&cache)?;
        fs::remove_dir_all(&out)?;
        Ok(())
    }

    /// `sparkimg fetch` into `cache`, checked to have unpacked a distribution.
    fn ours(&self, cache: &Path) -> Result<u64> {
        sync();
        let (ns, home) = sparkimg_fetch(self.sparkimg, self.version, self.mirror_url, cache)?;
        ensure!(
            Path::new(home.trim()).join("bin/spark-submit").is_file(),
            "sparkimg fetch printed {home:?}, which has no bin/spark-submit"
        );
        Ok(ns)
    }

    /// The shell pipeline in `out`, checked to have unpacked a distribution.
    fn theirs(&self, out: &Path) -> Result<u64> {
        sync();
        let ns = timed(
            Command::new("bash")
                .args(["-c", self.pipeline])
                .current_dir(out)
                .stdout(Stdio::null()),
            "the curl | sha512sum | tar pipeline",
        )?;
        ensure!(
            out.join(self.base).join("bin/spark-submit").is_file(),
            "the pipeline left no {}/bin/spark-submit",
            self.base
        );
        Ok(ns)
    }
}

/// The report rows of `bench fetch` of a `tgz_size`-byte tarball.
fn rows(version: &SparkVersion, tgz_size: u64, runs: usize, s: &Samples) -> Vec<Row> {
    let raw = Stats::of(&s.raw);
    let cold = Stats::of(&s.cold);
    let shell = Stats::of(&s.shell);
    let cached = Stats::of(&s.cached);
    let rate = |ns: u64| tgz_size as f64 / (ns.max(1) as f64 / 1e9) / 1e6;
    let speedup = shell.median as f64 / cold.median.max(1) as f64;
    let n_cached = runs * CACHED_PER_RUN;
    vec![
        Row {
            label: "fetch: raw loopback transfer".into(),
            what: format!(
                "raw loopback transfer of spark-{version} ({}): curl -o /dev/null, context only",
                human_size(tgz_size)
            ),
            ours: format!("{} ≈ {:.0} MB/s", raw.describe(), rate(raw.median)),
            theirs: "—".into(),
            ratio: None,
            target: String::new(),
            pass: None,
            detail: json!({ "runs": runs, "bytes": tgz_size, "curl": raw.to_json() }),
        },
        Row {
            label: "fetch: cold, vs curl + sha512sum + tar".into(),
            what: format!(
                "cold fetch spark-{version}: download + sha512 + extract (median of {runs}); \
                 ours: sparkimg fetch, theirs: curl && curl && sha512sum -c && tar xzf"
            ),
            ours: format!("{} ≈ {:.0} MB/s", cold.describe(), rate(cold.median)),
            theirs: format!("{} ≈ {:.0} MB/s", shell.describe(), rate(shell.median)),
            ratio: Some(speedup),
            target: format!("≥ {MIN_SPEEDUP}×"),
            pass: Some(speedup >= MIN_SPEEDUP),
            detail: json!({
                "runs": runs,
                "bytes": tgz_size,
                "ours": cold.to_json(),
                "theirs": shell.to_json(),
            }),
        },
        Row {
            label: "fetch: cached".into(),
            what: format!(
                "cached fetch spark-{version}: the same fetch again into the same cache (median of {n_cached})"
            ),
            ours: cached.describe(),
            theirs: "no cache: the pipeline runs again".into(),
            ratio: None,
            target: format!("< {}", super::ms(MAX_CACHED_NS)),
            pass: Some(cached.median < MAX_CACHED_NS),
            detail: json!({ "runs": n_cached, "ours": cached.to_json() }),
        },
    ]
}

/// The fixture mirror and the Spark version to fetch from it: the newest 3.x
/// distribution already there (the ~300 MB 3.5 line), else the newest of any line,
/// else whatever `cargo xtask fixtures` builds by default.
fn fixture() -> Result<(SparkVersion, PathBuf)> {
    let mirror = util::target_dir().join("fixtures").join("mirror");
    let mut have: Vec<SparkVersion> = fs::read_dir(&mirror)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let v = final_release(name.strip_prefix("spark-")?)?;
            let tgz = mirror
                .join(&name)
                .join(format!("spark-{v}-bin-hadoop3.tgz"));
            (tgz.is_file() && tgz.with_extension("tgz.sha512").is_file()).then_some(v)
        })
        .collect();
    have.sort();
    let pick = have
        .iter()
        .rev()
        .find(|v| v.major == 3)
        .or(have.last())
        .cloned();
    if let Some(v) = pick {
        return Ok((v, mirror));
    }
    eprintln!("bench: no fixture distribution yet; running `cargo xtask fixtures`");
    let built = crate::fixtures::build(&[Selector::Line(3, Some(5))])?;
    let dist = built
        .dists
        .first()
        .context("fixtures built no distribution")?;
    let mirror = dist
        .mirror_dir
        .parent()
        .context("mirror root")?
        .to_path_buf();
    Ok((dist.version.clone(), mirror))
}

/// [`super::timed`] with the proxy variables removed: the loopback mirror is direct.
fn timed(cmd: &mut Command, name: &str) -> Result<u64> {
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    super::timed(cmd, name)
}

fn curl_to_null(url: &str) -> Result<u64> {
    timed(
        Command::new("curl").args(["-fsS", "-o", "/dev/null", url]),
        "curl -o /dev/null",
    )
}

/// One `sparkimg fetch`; returns its wall time and what it printed (the SPARK_HOME).
fn sparkimg_fetch(
    sparkimg: &Path,
    version: &SparkVersion,
    mirror_url: &str,
    cache: &Path,
) -> Result<(u64, String)> {
    let mut cmd = Command::new(sparkimg);
    cmd.arg("fetch")
        .args(["--spark-version", &version.to_string()])
        .args(["--mirror", mirror_url, "--no-default-mirrors"])
        .arg("--cache-dir")
        .arg(cache)
        .args(["--progress", "quiet"])
        .env_remove("SPARKIMG_MIRRORS")
        .env_remove("SPARKIMG_CACHE_DIR")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    let start = Instant::now();
    let out = cmd.output().context("cannot start sparkimg")?;
    let ns = start.elapsed().as_nanos() as u64;
    if !out.status.success() {
        bail!("sparkimg fetch failed: {}", out.status);
    }
    Ok((ns, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The run's scratch directory, removed however the run ends.
struct Work(PathBuf);

impl Drop for Work {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
