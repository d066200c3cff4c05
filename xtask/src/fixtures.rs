//! `cargo xtask fixtures`: Spark distributions and test jobs for the end-to-end tests.
//!
//! apache.org and Maven Central are unreachable from CI, but PyPI is not, and every
//! `pyspark` sdist carries the complete `jars/`, `bin/`, python and examples of the
//! `-bin-hadoop3` build. We reshape one into the layout of the official
//! `spark-<v>-bin-hadoop3.tgz` (see /work/shared/research/e2e-feasibility.md §1), add
//! the few pieces the sdist lacks (stand-in sbin wrappers, conf templates, RELEASE),
//! and lay it out like an Apache mirror so `sparkimg fetch --mirror` can use it.
//!
//! Layout under `target/fixtures/`:
//!   pypi/pyspark-<v>.tar.gz{,.sha256}            downloaded once; kept for the default
//!                                                line (3.5), removed for the others once
//!                                                their distribution is built (the .sha256
//!                                                record stays: it keys the cache)
//!   dist/spark-<v>-bin-hadoop3/                  unpacked tree (javac, host runs)
//!   dist/spark-<v>-bin-hadoop3.tgz{,.sha512}     the distribution
//!   dist/spark-<v>-bin-hadoop3.stamp             what the above were built from
//!   mirror/spark-<v>/spark-<v>-bin-hadoop3.tgz{,.sha512}   hard links
//!   sparkpi.jar, pi.py                           test jobs
//!   jobs/<v>/{sparkpi.jar,pi.py,executor-java-options.txt,stamp}
//!                                                per line: the job compiled against that
//!                                                line's jars, and the executor JVM options
//!                                                its driver computes (ExecutorJavaOptions)
//!   base/bookworm-jre17.{tar,json,stamp}         with --base: Debian root file system
//!                                                (see base.rs)
//!   base/bookworm-jre17-nopython.{tar,json,stamp} with --jvm-only-base: the same
//!                                                without python3 (base.rs JVM_ONLY)
//!
//! Every output is written under a temporary name and renamed into place, and the
//! stamp is written last: an interrupted run leaves nothing that a later run trusts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
// The workspace's one Spark version type (`spark-version`); pyspark's PyPI versions
// are Spark's.
use spark_version::SparkVersion as Version;

use crate::util::{self, human_size, Step};

/// Bump when the assembly changes in a way the asset fingerprint does not capture
/// (the Rust code below); it invalidates every cached distribution.
const ASSEMBLER_REVISION: u32 = 1;

const SBIN_STAND_INS: [(&str, &str); 4] = [
    (
        "start-master.sh",
        include_str!("../assets/fixtures/sbin/start-master.sh"),
    ),
    (
        "start-worker.sh",
        include_str!("../assets/fixtures/sbin/start-worker.sh"),
    ),
    (
        "stop-master.sh",
        include_str!("../assets/fixtures/sbin/stop-master.sh"),
    ),
    (
        "stop-worker.sh",
        include_str!("../assets/fixtures/sbin/stop-worker.sh"),
    ),
];

const CONF_TEMPLATES: [(&str, &str); 4] = [
    (
        "spark-defaults.conf.template",
        include_str!("../assets/fixtures/conf/spark-defaults.conf.template"),
    ),
    (
        "spark-env.sh.template",
        include_str!("../assets/fixtures/conf/spark-env.sh.template"),
    ),
    (
        "log4j2.properties.template",
        include_str!("../assets/fixtures/conf/log4j2.properties.template"),
    ),
    (
        "workers.template",
        include_str!("../assets/fixtures/conf/workers.template"),
    ),
];

const JAVA_SPARK_PI: &str = include_str!("../assets/fixtures/JavaSparkPi.java");
const EXECUTOR_JAVA_OPTIONS: &str = include_str!("../assets/fixtures/ExecutorJavaOptions.java");
const PI_PY: &str = include_str!("../assets/fixtures/pi.py");

pub fn main(args: Vec<String>) -> Result<()> {
    let mut selectors = Vec::new();
    let (mut base, mut docker_base, mut jvm_only_base) = (false, false, false);
    let mut line_bases = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--spark" => args.next().context("--spark needs a value")?,
            "--base" => {
                base = true;
                continue;
            }
            "--docker-base" => {
                docker_base = true;
                continue;
            }
            "--jvm-only-base" => {
                jvm_only_base = true;
                continue;
            }
            "--line-bases" => {
                line_bases = true;
                continue;
            }
            other => match other.strip_prefix("--spark=") {
                Some(v) => v.to_string(),
                None => bail!(
                    "fixtures: unknown option {other:?} (expected --spark SEL, --base, --docker-base, \
                     --jvm-only-base, --line-bases)"
                ),
            },
        };
        for part in value.split(',').filter(|p| !p.is_empty()) {
            selectors.extend(Selector::parse(part)?);
        }
    }
    if selectors.is_empty() {
        selectors.push(Selector::Line(3, Some(5)));
    }
    let paths = build(&selectors)?;
    println!("{}", paths.summary());
    // Opt-in: mmdebstrap needs root (or user namespaces) and 45–75 s when cold,
    // and only the container end-to-end tests use the result. --base: the normal base
    // and its shell-free variant (issue 14), which the e2e suite runs the same
    // scenarios on; --line-bases: the JVM bases of the per-line matrix (issue 18);
    // --jvm-only-base: a base without python3, for the OS-package layer tests.
    use crate::base::{Variant, FULL, JVM_ONLY, LINE_BASES, NOSHELL};
    let mut variants: Vec<&'static Variant> = Vec::new();
    for (wanted, these) in [
        (base || docker_base, &[&FULL, &NOSHELL][..]),
        (line_bases, &LINE_BASES[..]),
        (jvm_only_base, &[&JVM_ONLY][..]),
    ] {
        for v in these.iter().filter(|_| wanted) {
            if !variants.iter().any(|have| have.name == v.name) {
                variants.push(v);
            }
        }
    }
    for (variant, built) in variants.iter().zip(ensure_bases(&variants)?) {
        if docker_base && [FULL.name, NOSHELL.name].contains(&variant.name) {
            crate::base::docker_import_variant(&built, variant)?;
        }
        println!(
            "base:       {} ({}, java home {})\n            {}",
            built.tar.display(),
            human_size(built.size),
            built.java_home,
            built.meta.display()
        );
    }
    Ok(())
}

/// Every base of [`crate::base::LINE_BASES`].
pub fn ensure_line_bases() -> Result<Vec<crate::base::Base>> {
    ensure_bases(&crate::base::LINE_BASES)
}

/// `variants`' bases, built two at a time (mmdebstrap is mostly downloads, dpkg
/// unpacking and configuring: one core each), in their order.
fn ensure_bases(variants: &[&crate::base::Variant]) -> Result<Vec<crate::base::Base>> {
    let mut built: Vec<Result<crate::base::Base>> = Vec::new();
    for pair in variants.chunks(2) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = pair
                .iter()
                .map(|variant| scope.spawn(move || crate::base::ensure_variant(variant)))
                .collect();
            built.extend(handles.into_iter().map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a base build panicked")))
            }));
        });
    }
    built.into_iter().collect()
}

/// What `build` produced, for callers (tests, CI) and for the final printout.
pub struct Fixtures {
    pub dists: Vec<Dist>,
    pub sparkpi_jar: PathBuf,
    pub pi_py: PathBuf,
}

pub struct Dist {
    pub version: Version,
    pub tree: PathBuf,
    pub tgz: PathBuf,
    pub sha512: PathBuf,
    pub mirror_dir: PathBuf,
    /// This line's test jobs (`jobs/<v>/`).
    pub jobs: Jobs,
}

/// A line's test jobs: the directory the e2e tests mount, and the executor JVM
/// options its driver computes (one option per element).
#[derive(Clone, Default)]
pub struct Jobs {
    pub dir: PathBuf,
    pub executor_java_options: Vec<String>,
}

impl Fixtures {
    fn summary(&self) -> String {
        let mut s = String::new();
        for d in &self.dists {
            let size = fs::metadata(&d.tgz).map(|m| m.len()).unwrap_or(0);
            s += &format!("spark {}:\n", d.version);
            s += &format!("  tgz     {} ({})\n", d.tgz.display(), human_size(size));
            s += &format!("  sha512  {}\n", d.sha512.display());
            s += &format!("  tree    {}\n", d.tree.display());
            s += &format!("  mirror  {}\n", d.mirror_dir.display());
            s += &format!("  jobs    {}\n", d.jobs.dir.display());
        }
        if let Some(first) = self.dists.first() {
            let mirror_root = first.mirror_dir.parent().unwrap_or(&first.mirror_dir);
            s += &format!("mirror URL: file://{}\n", mirror_root.display());
        }
        s += &format!("java job:   {}\n", self.sparkpi_jar.display());
        s += &format!("python job: {}", self.pi_py.display());
        s
    }
}

/// Builds (or finds cached) everything for `selectors`.
pub fn build(selectors: &[Selector]) -> Result<Fixtures> {
    let root = util::target_dir().join("fixtures");
    let pypi = root.join("pypi");
    for dir in [&root, &pypi, &root.join("dist"), &root.join("jobs")] {
        util::remove_stale_temporaries(dir);
    }
    let mut index: Option<Vec<Version>> = None;
    let mut versions: Vec<Version> = Vec::new();
    for selector in selectors {
        for version in resolve(selector, &mut index, &pypi)? {
            if !versions.contains(&version) {
                versions.push(version);
            }
        }
    }
    let dists = build_dists(&versions, &root)?;

    // One jar serves every version (Java API only), so compile it against the oldest
    // line we have: --release 8 then keeps it loadable everywhere. Spark 4's jars are
    // Java 17 class files, which javac refuses to read under --release 8. The default
    // line (3.5) is preferred when present so that selecting every line does not
    // rebuild the jar other checkouts share.
    let base = dists
        .iter()
        .filter(|d| d.version.major == DEFAULT_LINE.0 && d.version.minor == DEFAULT_LINE.1)
        .min_by_key(|d| &d.version)
        .or_else(|| dists.iter().min_by_key(|d| &d.version))
        .context("no Spark version selected")?;
    let sparkpi_jar = ensure_sparkpi_jar(base, &root)?;
    let pi_py = root.join("pi.py");
    util::write_if_changed(&pi_py, PI_PY.as_bytes())?;
    Ok(Fixtures {
        dists,
        sparkpi_jar,
        pi_py,
    })
}

/// The line everything but the per-line matrix uses: its sdist is kept.
const DEFAULT_LINE: (u32, u32) = (3, 5);

/// Downloads and assembles `versions`, two at a time: pip's download and metadata
/// build wait on the network and one core, the unpack and gzip on disk and the other,
/// so two workers keep a 2-core machine busy without thrashing it; each then makes
/// the line's test jobs (javac and one JVM).
fn build_dists(versions: &[Version], root: &Path) -> Result<Vec<Dist>> {
    let pypi = root.join("pypi");
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, Result<Dist>)>> = Default::default();
    std::thread::scope(|scope| {
        for _ in 0..versions.len().min(2) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(version) = versions.get(i) else {
                    break;
                };
                let step = Step::start(format!("fixtures: spark {version}"));
                let dist = ensure_dist(version, &pypi, root).and_then(|mut dist| {
                    dist.jobs = ensure_jobs(&dist, root)?;
                    Ok(dist)
                });
                step.done();
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, dist));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut dists = Vec::new();
    for (_, dist) in results {
        dists.push(dist?);
    }
    Ok(dists)
}

// ---------------------------------------------------------------------------------
// Versions

/// A final release by the workspace's version grammar: PyPI's `4.1.0.dev1`,
/// `2.2.0.post0` and the like, and pre-releases, are skipped, as they are not what an
/// Apache mirror carries.
pub fn final_release(s: &str) -> Option<Version> {
    s.parse::<Version>().ok().filter(|v| v.pre.is_none())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The newest final release of a major (`4.x`) or major.minor (`3.5.x`) line.
    Line(u32, Option<u32>),
    Exact(Version),
    /// The newest final release of every major.minor line from 3.0 on (`lines`): the
    /// per-line end-to-end matrix (issue 18). 2.x needs Java 8, which no reachable
    /// registry has.
    EveryLine,
}

impl Selector {
    pub fn parse(s: &str) -> Result<Vec<Selector>> {
        if s == "all" {
            return Ok(vec![Selector::Line(3, Some(5)), Selector::Line(4, None)]);
        }
        if s == "lines" {
            return Ok(vec![Selector::EveryLine]);
        }
        if let Some(v) = final_release(s) {
            return Ok(vec![Selector::Exact(v)]);
        }
        let line = s.strip_suffix(".x").unwrap_or(s);
        let mut parts = line.split('.').map(str::parse::<u32>);
        let parsed = match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(major)), None, None) => Selector::Line(major, None),
            (Some(Ok(major)), Some(Ok(minor)), None) => Selector::Line(major, Some(minor)),
            _ => bail!(
                "bad --spark value {s:?}: expected 3.5.x, 4.x, all, lines or a version like 3.5.9"
            ),
        };
        Ok(vec![parsed])
    }

    fn matches(&self, v: &Version) -> bool {
        match self {
            Selector::Line(major, minor) => v.major == *major && minor.is_none_or(|m| v.minor == m),
            Selector::Exact(e) => e == v,
            Selector::EveryLine => v.major >= 3,
        }
    }
}

/// The newest of `versions` per major.minor line that `selector` matches, oldest first.
fn newest_per_line(selector: &Selector, versions: &[Version]) -> Vec<Version> {
    let mut newest: std::collections::BTreeMap<(u32, u32), &Version> = Default::default();
    for v in versions.iter().filter(|v| selector.matches(v)) {
        let slot = newest.entry((v.major, v.minor)).or_insert(v);
        if v > *slot {
            *slot = v;
        }
    }
    newest.into_values().cloned().collect()
}

fn resolve(
    selector: &Selector,
    index: &mut Option<Vec<Version>>,
    pypi: &Path,
) -> Result<Vec<Version>> {
    if let Selector::Exact(v) = selector {
        return Ok(vec![v.clone()]);
    }
    if index.is_none() {
        *index = Some(match pypi_versions() {
            Ok(versions) => versions,
            Err(err) => {
                // Offline, e.g. re-running tests on a plane: the sdists already
                // downloaded are the best answer we have.
                eprintln!("fixtures: warning: cannot list pyspark versions on PyPI ({err:#}); using cached sdists");
                cached_versions(pypi)
            }
        });
    }
    let versions = index.as_deref().unwrap_or_default();
    if *selector == Selector::EveryLine {
        let lines = newest_per_line(selector, versions);
        ensure!(!lines.is_empty(), "no pyspark release from 3.0 on");
        return Ok(lines);
    }
    let newest = versions
        .iter()
        .filter(|v| selector.matches(v))
        .max()
        .cloned()
        .with_context(|| format!("no pyspark release matches {selector:?}"))?;
    Ok(vec![newest])
}

fn python() -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "--disable-pip-version-check"]);
    cmd
}

fn pypi_versions() -> Result<Vec<Version>> {
    let out = util::output(python().args(["index", "versions", "pyspark"]))?;
    let list = out
        .lines()
        .find_map(|l| l.strip_prefix("Available versions:"))
        .context("`pip index versions` printed no \"Available versions:\" line")?;
    Ok(list
        .split(',')
        .filter_map(|v| final_release(v.trim()))
        .collect())
}

fn cached_versions(pypi: &Path) -> Vec<Version> {
    let Ok(entries) = fs::read_dir(pypi) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let v = name
                .strip_prefix("pyspark-")?
                .strip_suffix(".tar.gz.sha256")?;
            final_release(v)
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// The sdist

/// Returns the sdist and its sha256, downloading it with pip unless already here.
///
/// `pip download` always runs a PEP 517 metadata build (~10 s) even for a file it
/// has, so we don't call it at all when the file and its checksum record exist.
fn ensure_sdist(version: &Version, pypi: &Path) -> Result<(PathBuf, String)> {
    let name = format!("pyspark-{version}.tar.gz");
    let sdist = pypi.join(&name);
    let record = pypi.join(format!("{name}.sha256"));
    if let (Ok(s), Ok(r)) = (fs::metadata(&sdist), fs::metadata(&record)) {
        // The record is written after the sdist; a newer sdist means someone replaced it.
        if r.modified()? >= s.modified()? {
            let text = fs::read_to_string(&record)?;
            if let Some(hex) = text.split_whitespace().next().filter(|h| h.len() == 64) {
                return Ok((sdist, hex.to_string()));
            }
        }
        let hex = util::sha_file("sha256sum", &sdist)?;
        util::write_atomic(&record, format!("{hex}  {name}\n").as_bytes())?;
        return Ok((sdist, hex));
    }

    let step = Step::start(format!(
        "fixtures: download {name} from PyPI (about 300 MB: 15 s to a few min, once)"
    ));
    let tmp = pypi.join(format!(".download-{version}-{}", std::process::id()));
    fs::create_dir_all(&tmp)?;
    // pip checks the file against the sha256 the index publishes for it.
    util::run(
        python()
            .args(["download", "--no-deps", "--no-binary", ":all:"])
            .args(["--progress-bar", "off", "--dest"])
            .arg(&tmp)
            .arg(format!("pyspark=={version}")),
    )?;
    let downloaded = tmp.join(&name);
    ensure!(
        downloaded.is_file(),
        "pip did not leave {name} in {}",
        tmp.display()
    );
    let _ = fs::remove_file(&record);
    fs::rename(&downloaded, &sdist)?;
    fs::remove_dir_all(&tmp)?;
    let hex = util::sha_file("sha256sum", &sdist)?;
    util::write_atomic(&record, format!("{hex}  {name}\n").as_bytes())?;
    step.done();
    Ok((sdist, hex))
}

// ---------------------------------------------------------------------------------
// The distribution

fn assembler_id() -> String {
    let mut parts: Vec<&[u8]> = Vec::new();
    for (name, text) in SBIN_STAND_INS.iter().chain(&CONF_TEMPLATES) {
        parts.push(name.as_bytes());
        parts.push(text.as_bytes());
    }
    format!("{ASSEMBLER_REVISION}-{:016x}", util::fnv64(&parts))
}

/// The line's distribution, assembled unless the stamp says an identical one is here.
/// The sdist is only needed (and only downloaded) to assemble; outside the default
/// line it is removed afterwards, keeping its checksum record, which keys the cache.
fn ensure_dist(version: &Version, pypi: &Path, root: &Path) -> Result<Dist> {
    let base = format!("spark-{version}-bin-hadoop3");
    let dist_dir = root.join("dist");
    let dist = Dist {
        version: version.clone(),
        tree: dist_dir.join(&base),
        tgz: dist_dir.join(format!("{base}.tgz")),
        sha512: dist_dir.join(format!("{base}.tgz.sha512")),
        mirror_dir: root.join("mirror").join(format!("spark-{version}")),
        jobs: Jobs::default(),
    };
    let stamp_path = dist_dir.join(format!("{base}.stamp"));
    let inputs = |sdist_sha256: &str| {
        format!(
            "assembler {}\nsdist-sha256 {sdist_sha256}\n",
            assembler_id()
        )
    };
    let sdist_name = format!("pyspark-{version}.tar.gz");
    let recorded = fs::read_to_string(pypi.join(format!("{sdist_name}.sha256"))).ok();
    let recorded = recorded
        .as_deref()
        .and_then(|r| r.split_whitespace().next());
    let pruned = !pypi.join(&sdist_name).exists();
    if let Some(sha) = recorded.filter(|_| pruned) {
        if dist_cached(&dist, &stamp_path, &inputs(sha)) {
            eprintln!("fixtures: {} is up to date", dist.tgz.display());
            link_mirror(&dist)?;
            return Ok(dist);
        }
    }
    let (sdist, sdist_sha256) = ensure_sdist(version, pypi)?;
    let inputs = inputs(&sdist_sha256);
    if dist_cached(&dist, &stamp_path, &inputs) {
        eprintln!("fixtures: {} is up to date", dist.tgz.display());
    } else {
        // Drop the stamp first: from here until the new one is written, the outputs
        // are in flux and must not be trusted by a run that starts meanwhile.
        let _ = fs::remove_file(&stamp_path);
        let (tgz_size, tgz_sha512) = assemble(version, &sdist, &dist)?;
        util::write_atomic(
            &stamp_path,
            format!("{inputs}tgz-size {tgz_size}\ntgz-sha512 {tgz_sha512}\n").as_bytes(),
        )?;
    }
    if (version.major, version.minor) != DEFAULT_LINE {
        // 200–450 MB each; the distribution is what the tests use.
        fs::remove_file(&sdist).with_context(|| format!("remove {}", sdist.display()))?;
    }
    link_mirror(&dist)?;
    Ok(dist)
}

/// Whether the stamp at `stamp_path` starts with `inputs` and the outputs it
/// describes are all there.
fn dist_cached(dist: &Dist, stamp_path: &Path, inputs: &str) -> bool {
    fs::read_to_string(stamp_path)
        .ok()
        .filter(|stamp| stamp.starts_with(inputs))
        .and_then(|stamp| {
            let size = stamp.lines().find_map(|l| l.strip_prefix("tgz-size "))?;
            let ok = fs::metadata(&dist.tgz).ok()?.len().to_string() == size
                && dist.sha512.is_file()
                && dist.tree.is_dir();
            ok.then_some(())
        })
        .is_some()
}

fn assemble(version: &Version, sdist: &Path, dist: &Dist) -> Result<(u64, String)> {
    let dist_dir = dist.tgz.parent().context("dist dir")?;
    fs::create_dir_all(dist_dir)?;
    let staging = dist_dir.join(format!(".staging-{version}-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir_all(&staging)?;

    let step = Step::start(format!("fixtures: unpack {}", sdist.display()));
    // --no-same-owner: the sdist records the release manager's uid, which root would
    // otherwise restore.
    util::run(
        Command::new("tar")
            .args(["--extract", "--gzip", "--no-same-owner", "--file"])
            .arg(sdist)
            .arg("--directory")
            .arg(&staging),
    )?;
    step.done();

    let step = Step::start("fixtures: arrange the official layout");
    let base = format!("spark-{version}-bin-hadoop3");
    let src = staging.join(format!("pyspark-{version}"));
    let out = staging.join(&base);
    let epoch = arrange(version, &src, &out)?;
    fs::remove_dir_all(&src)?;
    step.done();

    let step = Step::start("fixtures: write the .tgz");
    let tgz_tmp = util::temp_sibling(&dist.tgz);
    write_tgz(&staging, &base, epoch, &tgz_tmp)?;
    let tgz_size = fs::metadata(&tgz_tmp)?.len();
    let sha512 = util::sha_file("sha512sum", &tgz_tmp)?;
    step.done();

    util::replace_dir(&out, &dist.tree)?;
    fs::rename(&tgz_tmp, &dist.tgz)?;
    let tgz_name = dist.tgz.file_name().context("tgz name")?.to_string_lossy();
    // `sha512sum -c` format, as Apache's newer releases publish it.
    util::write_atomic(&dist.sha512, format!("{sha512}  {tgz_name}\n").as_bytes())?;
    fs::remove_dir_all(&staging)?;
    eprintln!(
        "fixtures: {} is {} ({tgz_size} bytes)",
        dist.tgz.display(),
        human_size(tgz_size)
    );
    Ok((tgz_size, sha512))
}

/// Moves the sdist's pieces (`src` = `pyspark-<v>/`) into the official layout at
/// `out` and adds what the sdist lacks. Returns the timestamp to give every entry
/// of the tarball: the sdist's own PKG-INFO time, so rebuilding is reproducible.
fn arrange(version: &Version, src: &Path, out: &Path) -> Result<u64> {
    let epoch = fs::metadata(src.join("PKG-INFO"))
        .and_then(|m| m.modified())
        .context("the sdist has no PKG-INFO")?
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let deps = src.join("deps");
    fs::create_dir_all(out)?;
    for dir in ["jars", "bin", "sbin"] {
        move_into(&deps.join(dir), &out.join(dir), true)?;
    }
    for dir in ["data", "licenses"] {
        move_into(&deps.join(dir), &out.join(dir), false)?;
    }
    fs::create_dir_all(out.join("examples/src/main"))?;
    move_into(
        &deps.join("examples"),
        &out.join("examples/src/main/python"),
        false,
    )?;
    let python = out.join("python");
    fs::create_dir_all(&python)?;
    move_into(&src.join("pyspark"), &python.join("pyspark"), true)?;
    move_into(&src.join("lib"), &python.join("lib"), true)?;
    for file in ["setup.py", "README.md"] {
        if src.join(file).is_file() {
            fs::copy(src.join(file), python.join(file))?;
        }
    }
    fs::copy(src.join("README.md"), out.join("README.md")).context("the sdist has no README.md")?;

    let jars = list_names(&out.join("jars"))?;
    // 3.2+ ship Hadoop's shaded client (profile hadoop-3); 3.0 and 3.1 the plain
    // Hadoop 3.2 jars of their hadoop-3.2 profile.
    let (hadoop, hadoop_profile) = match jar_version(&jars, "hadoop-client-api-") {
        Some(v) => (v, "hadoop-3"),
        None => (
            jar_version(&jars, "hadoop-common-")
                .context("no hadoop-client-api or hadoop-common jar in jars/")?,
            "hadoop-3.2",
        ),
    };
    let scala = jar_version(&jars, "scala-library-").context("no scala-library jar in jars/")?;
    let scala_binary: String = scala.split('.').take(2).collect::<Vec<_>>().join(".");
    // Same shape as make-distribution.sh's RELEASE (first line is what tools parse),
    // and honest about where this build came from.
    let release = format!(
        "Spark {version} built for Hadoop {hadoop}\n\
         Build flags: -B -Pyarn -Pkubernetes -Pscala-{scala_binary} -P{hadoop_profile} -Phive -Phive-thriftserver\n\
         Reassembled by sparkimg `cargo xtask fixtures` from PyPI's pyspark-{version}.tar.gz (Scala {scala}); \
         sbin/start-*.sh, sbin/stop-*.sh and conf/ are stand-ins, examples jars, R and yarn are absent.\n"
    );
    fs::write(out.join("RELEASE"), release)?;

    for (name, text) in SBIN_STAND_INS {
        let path = out.join("sbin").join(name);
        // Never shadow a real upstream script, should a later sdist ship one.
        if !path.exists() {
            fs::write(&path, text)?;
        }
    }
    let conf = out.join("conf");
    fs::create_dir_all(&conf)?;
    for (name, text) in CONF_TEMPLATES {
        fs::write(conf.join(name), text)?;
    }
    for dir in ["bin", "sbin"] {
        for name in list_names(&out.join(dir))? {
            let path = out.join(dir).join(name);
            if path.is_file() {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            }
        }
    }
    Ok(epoch)
}

fn move_into(from: &Path, to: &Path, required: bool) -> Result<()> {
    if !from.exists() {
        ensure!(!required, "the sdist has no {}", from.display());
        return Ok(());
    }
    fs::rename(from, to).with_context(|| format!("move {} to {}", from.display(), to.display()))
}

fn list_names(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// `hadoop-client-api-3.3.4.jar` → `3.3.4` for prefix `hadoop-client-api-`.
fn jar_version<'a>(jars: &'a [String], prefix: &str) -> Option<&'a str> {
    jars.iter()
        .find_map(|j| j.strip_prefix(prefix)?.strip_suffix(".jar"))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// `tar | gzip` with everything that varies between machines pinned: entry order,
/// owners, times, permission noise. The jars inside are already deflated, so level 1
/// loses ~1% against level 6 and saves seconds; pigz uses both cores when present.
fn write_tgz(dir: &Path, base: &str, epoch: u64, dest: &Path) -> Result<()> {
    let compressor = if util::have("pigz") { "pigz" } else { "gzip" };
    eprintln!(
        "$ tar -C {} -c {base} | {compressor} -1 -n > {}",
        dir.display(),
        dest.display()
    );
    let mut tar = Command::new("tar")
        .args([
            "--create",
            "--file=-",
            "--format=gnu",
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mode=u+rw,go-w,a+rX",
        ])
        .arg(format!("--mtime=@{epoch}"))
        .arg("--directory")
        .arg(dir)
        .arg(base)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start tar")?;
    let file = fs::File::create(dest).with_context(|| format!("create {}", dest.display()))?;
    let gzip_status = Command::new(compressor)
        .args(["-1", "-n", "-c"])
        .stdin(tar.stdout.take().context("tar stdout")?)
        .stdout(file)
        .status()
        .with_context(|| format!("cannot start {compressor}"))?;
    let tar_status = tar.wait()?;
    ensure!(tar_status.success(), "tar failed: {tar_status}");
    ensure!(gzip_status.success(), "{compressor} failed: {gzip_status}");
    fs::File::open(dest)?.sync_all()?;
    Ok(())
}

/// Hard links in the mirror layout (`spark-<v>/spark-<v>-bin-hadoop3.tgz{,.sha512}`),
/// refreshed every run so they always point at the current files.
fn link_mirror(dist: &Dist) -> Result<()> {
    fs::create_dir_all(&dist.mirror_dir)?;
    util::remove_stale_temporaries(&dist.mirror_dir);
    for file in [&dist.tgz, &dist.sha512] {
        let link = dist.mirror_dir.join(file.file_name().context("file name")?);
        if same_file(file, &link) {
            // Also required for correctness: rename(2) between two links of one
            // inode does nothing and would leave the temporary link behind.
            continue;
        }
        let tmp = util::temp_sibling(&link);
        let _ = fs::remove_file(&tmp);
        if fs::hard_link(file, &tmp).is_err() {
            // A target dir split over file systems: copying is slower but correct.
            fs::copy(file, &tmp)?;
        }
        fs::rename(&tmp, &link)?;
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------
// Test jobs

fn ensure_sparkpi_jar(dist: &Dist, root: &Path) -> Result<PathBuf> {
    let jar = root.join("sparkpi.jar");
    let stamp_path = root.join("sparkpi.jar.stamp");
    let release = if dist.version.major >= 4 { "17" } else { "8" };
    let dist_stamp = fs::read_to_string(dist.tgz.with_extension("stamp")).unwrap_or_default();
    let inputs = format!(
        "source {:016x}\nspark {} {:016x}\nrelease {release}\n",
        util::fnv64(&[JAVA_SPARK_PI.as_bytes()]),
        dist.version,
        util::fnv64(&[dist_stamp.as_bytes()])
    );
    if jar.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == inputs) {
        return Ok(jar);
    }
    let step = Step::start(format!(
        "fixtures: compile sparkpi.jar against spark {}",
        dist.version
    ));
    let _ = fs::remove_file(&stamp_path);
    let work = root.join(format!(".sparkpi-{}", std::process::id()));
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    let source_dir = work.join("src/fixture");
    fs::create_dir_all(&source_dir)?;
    let source = source_dir.join("JavaSparkPi.java");
    fs::write(&source, JAVA_SPARK_PI)?;
    let classes = work.join("classes");
    // javac expands the `dir/*` wildcard itself (it must reach it unexpanded).
    util::run(
        Command::new("javac")
            .args([
                "--release",
                release,
                "-Xlint:-options",
                "-nowarn",
                "-classpath",
            ])
            .arg(dist.tree.join("jars").join("*"))
            .arg("-d")
            .arg(&classes)
            .arg(&source),
    )?;
    let tmp_jar = util::temp_sibling(&jar);
    util::run(
        Command::new("jar")
            .args(["--create", "--main-class", "fixture.JavaSparkPi", "--file"])
            .arg(&tmp_jar)
            .arg("-C")
            .arg(&classes)
            .arg("."),
    )?;
    fs::rename(&tmp_jar, &jar)?;
    fs::remove_dir_all(&work)?;
    util::write_atomic(&stamp_path, inputs.as_bytes())?;
    step.done();
    Ok(jar)
}

/// `jobs/<v>/`: sparkpi.jar (JavaSparkPi and ExecutorJavaOptions) compiled against
/// this line's own jars, pi.py, and `executor-java-options.txt`, the options this
/// line's driver gives executors (printed by ExecutorJavaOptions run on the host JDK
/// against the line's jars). Cached by the sources and the distribution's stamp.
fn ensure_jobs(dist: &Dist, root: &Path) -> Result<Jobs> {
    let dir = root.join("jobs").join(dist.version.to_string());
    let stamp_path = dir.join("stamp");
    let options_path = dir.join("executor-java-options.txt");
    let release = if dist.version.major >= 4 { "17" } else { "8" };
    let dist_stamp = fs::read_to_string(dist.tgz.with_extension("stamp")).unwrap_or_default();
    let inputs = format!(
        "source {:016x}\nspark {} {:016x}\nrelease {release}\n",
        util::fnv64(&[
            JAVA_SPARK_PI.as_bytes(),
            EXECUTOR_JAVA_OPTIONS.as_bytes(),
            PI_PY.as_bytes()
        ]),
        dist.version,
        util::fnv64(&[dist_stamp.as_bytes()])
    );
    let read_options = || -> Result<Vec<String>> {
        let text = fs::read_to_string(&options_path)?;
        Ok(text.split_whitespace().map(str::to_string).collect())
    };
    if fs::read_to_string(&stamp_path).is_ok_and(|s| s == inputs) {
        if let Ok(options) = read_options() {
            return Ok(Jobs {
                dir,
                executor_java_options: options,
            });
        }
    }
    let step = Step::start(format!("fixtures: test jobs for spark {}", dist.version));
    let _ = fs::remove_file(&stamp_path);
    let work = root
        .join("jobs")
        .join(format!(".work-{}-{}", dist.version, std::process::id()));
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    let source_dir = work.join("src/fixture");
    fs::create_dir_all(&source_dir)?;
    fs::write(source_dir.join("JavaSparkPi.java"), JAVA_SPARK_PI)?;
    fs::write(
        source_dir.join("ExecutorJavaOptions.java"),
        EXECUTOR_JAVA_OPTIONS,
    )?;
    let classes = work.join("classes");
    let jars = dist.tree.join("jars").join("*");
    util::run(
        Command::new("javac")
            .args(["--release", release, "-Xlint:-options", "-nowarn"])
            .arg("-classpath")
            .arg(&jars)
            .arg("-d")
            .arg(&classes)
            .arg(source_dir.join("JavaSparkPi.java"))
            .arg(source_dir.join("ExecutorJavaOptions.java")),
    )?;
    let jar = work.join("sparkpi.jar");
    util::run(
        Command::new("jar")
            .args(["--create", "--main-class", "fixture.JavaSparkPi", "--file"])
            .arg(&jar)
            .arg("-C")
            .arg(&classes)
            .arg("."),
    )?;
    let mut classpath = jar.clone().into_os_string();
    classpath.push(":");
    classpath.push(&jars);
    let options = util::output(
        Command::new("java")
            .arg("-cp")
            .arg(classpath)
            .arg("fixture.ExecutorJavaOptions")
            // Keeps Spark from warning about the host name resolving to loopback.
            .env("SPARK_LOCAL_IP", "127.0.0.1"),
    )?;
    fs::write(work.join("executor-java-options.txt"), options.trim())?;
    fs::write(work.join("pi.py"), PI_PY)?;
    fs::remove_dir_all(&classes)?;
    fs::remove_dir_all(work.join("src"))?;
    util::replace_dir(&work, &dir)?;
    util::write_atomic(&stamp_path, inputs.as_bytes())?;
    step.done();
    Ok(Jobs {
        dir,
        executor_java_options: read_options()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_final_releases_only() {
        assert_eq!(final_release("3.5.9"), Some(Version::new(3, 5, 9)));
        assert_eq!(final_release("2.2.0.post0"), None);
        assert_eq!(final_release("4.1.0.dev1"), None);
        assert_eq!(final_release("4.0.0-preview1"), None);
        assert_eq!(final_release("4.0"), None);
    }

    #[test]
    fn selectors() {
        assert_eq!(
            Selector::parse("3.5.x").unwrap(),
            vec![Selector::Line(3, Some(5))]
        );
        assert_eq!(
            Selector::parse("4.x").unwrap(),
            vec![Selector::Line(4, None)]
        );
        assert_eq!(Selector::parse("all").unwrap().len(), 2);
        assert_eq!(
            Selector::parse("3.5.1").unwrap(),
            vec![Selector::Exact(Version::new(3, 5, 1))]
        );
        assert!(Selector::parse("latest").is_err());
        let line = Selector::Line(3, Some(5));
        assert!(line.matches(&Version::new(3, 5, 9)));
        assert!(!line.matches(&Version::new(3, 4, 4)));
        assert!(Selector::Line(4, None).matches(&Version::new(4, 3, 0)));
    }

    #[test]
    fn every_line_is_its_newest_final_release_from_3_0() {
        assert_eq!(Selector::parse("lines").unwrap(), vec![Selector::EveryLine]);
        let index: Vec<Version> = [
            "4.3.0",
            "4.2.1",
            "4.2.0",
            "4.0.5",
            "4.0.4",
            "3.5.9",
            "3.5.10",
            "3.1.3",
            "3.1.1",
            "3.0.3",
            "2.4.8",
            "2.2.0.post0",
            "4.1.0.dev1",
        ]
        .iter()
        .filter_map(|v| final_release(v))
        .collect();
        let lines: Vec<String> = newest_per_line(&Selector::EveryLine, &index)
            .iter()
            .map(Version::to_string)
            .collect();
        assert_eq!(
            lines,
            ["3.0.3", "3.1.3", "3.5.10", "4.0.5", "4.2.1", "4.3.0"]
        );
        assert!(newest_per_line(&Selector::EveryLine, &[Version::new(2, 4, 8)]).is_empty());
    }

    #[test]
    fn jar_versions() {
        let jars = vec![
            "hadoop-client-api-3.3.4.jar".to_string(),
            "hadoop-client-runtime-3.3.4.jar".to_string(),
            "scala-library-2.12.18.jar".to_string(),
        ];
        assert_eq!(jar_version(&jars, "hadoop-client-api-"), Some("3.3.4"));
        assert_eq!(jar_version(&jars, "scala-library-"), Some("2.12.18"));
        assert_eq!(jar_version(&jars, "spark-core_"), None);
    }
}
