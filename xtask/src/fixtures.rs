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
//!   pypi/pyspark-<v>.tar.gz{,.sha256}            downloaded once, kept
//!   dist/spark-<v>-bin-hadoop3/                  unpacked tree (javac, host runs)
//!   dist/spark-<v>-bin-hadoop3.tgz{,.sha512}     the distribution
//!   dist/spark-<v>-bin-hadoop3.stamp             what the above were built from
//!   mirror/spark-<v>/spark-<v>-bin-hadoop3.tgz{,.sha512}   hard links
//!   sparkpi.jar, pi.py                           test jobs
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
const PI_PY: &str = include_str!("../assets/fixtures/pi.py");

pub fn main(args: Vec<String>) -> Result<()> {
    let mut selectors = Vec::new();
    let (mut base, mut docker_base, mut jvm_only_base) = (false, false, false);
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
            other => match other.strip_prefix("--spark=") {
                Some(v) => v.to_string(),
                None => bail!(
                    "fixtures: unknown option {other:?} (expected --spark SEL, --base, --docker-base, \
                     --jvm-only-base)"
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
    // and only the container end-to-end tests use the result.
    if base || docker_base {
        // The normal base and its shell-free variant (issue 14), which the e2e suite
        // runs the same scenarios on.
        for variant in [&crate::base::FULL, &crate::base::NOSHELL] {
            let step = Step::start(format!("fixtures: base root file system {}", variant.name));
            let built = crate::base::ensure_variant(variant)?;
            if docker_base {
                crate::base::docker_import_variant(&built, variant)?;
            }
            step.done();
            println!(
                "base:       {} ({}, java home {})\n            {}",
                built.tar.display(),
                human_size(built.size),
                built.java_home,
                built.meta.display()
            );
        }
    }
    // A base without python3, for the OS-package layer tests (builder/tests/apt.rs).
    if jvm_only_base {
        let built = crate::base::ensure_variant(&crate::base::JVM_ONLY)?;
        println!(
            "base:       {} ({}, no python3)",
            built.tar.display(),
            human_size(built.size)
        );
    }
    Ok(())
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
    for dir in [&root, &pypi, &root.join("dist")] {
        util::remove_stale_temporaries(dir);
    }
    let mut index: Option<Vec<Version>> = None;
    let mut versions: Vec<Version> = Vec::new();
    for selector in selectors {
        let version = resolve(selector, &mut index, &pypi)?;
        if !versions.contains(&version) {
            versions.push(version);
        }
    }

    let mut dists = Vec::new();
    for version in &versions {
        let step = Step::start(format!("fixtures: spark {version}"));
        let (sdist, sdist_sha256) = ensure_sdist(version, &pypi)?;
        dists.push(ensure_dist(version, &sdist, &sdist_sha256, &root)?);
        step.done();
    }

    // One jar serves every version (Java API only), so compile it against the oldest
    // line we have: --release 8 then keeps it loadable everywhere. Spark 4's jars are
    // Java 17 class files, which javac refuses to read under --release 8.
    let base = dists
        .iter()
        .min_by_key(|d| &d.version)
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
}

impl Selector {
    pub fn parse(s: &str) -> Result<Vec<Selector>> {
        if s == "all" {
            return Ok(vec![Selector::Line(3, Some(5)), Selector::Line(4, None)]);
        }
        if let Some(v) = final_release(s) {
            return Ok(vec![Selector::Exact(v)]);
        }
        let line = s.strip_suffix(".x").unwrap_or(s);
        let mut parts = line.split('.').map(str::parse::<u32>);
        let parsed = match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(major)), None, None) => Selector::Line(major, None),
            (Some(Ok(major)), Some(Ok(minor)), None) => Selector::Line(major, Some(minor)),
            _ => bail!("bad --spark value {s:?}: expected 3.5.x, 4.x, all or a version like 3.5.9"),
        };
        Ok(vec![parsed])
    }

    fn matches(&self, v: &Version) -> bool {
        match self {
            Selector::Line(major, minor) => v.major == *major && minor.is_none_or(|m| v.minor == m),
            Selector::Exact(e) => e == v,
        }
    }
}

fn resolve(selector: &Selector, index: &mut Option<Vec<Version>>, pypi: &Path) -> Result<Version> {
    if let Selector::Exact(v) = selector {
        return Ok(v.clone());
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
    versions
        .iter()
        .filter(|v| selector.matches(v))
        .max()
        .cloned()
        .with_context(|| format!("no pyspark release matches {selector:?}"))
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

fn ensure_dist(version: &Version, sdist: &Path, sdist_sha256: &str, root: &Path) -> Result<Dist> {
    let base = format!("spark-{version}-bin-hadoop3");
    let dist_dir = root.join("dist");
    let dist = Dist {
        version: version.clone(),
        tree: dist_dir.join(&base),
        tgz: dist_dir.join(format!("{base}.tgz")),
        sha512: dist_dir.join(format!("{base}.tgz.sha512")),
        mirror_dir: root.join("mirror").join(format!("spark-{version}")),
    };
    let stamp_path = dist_dir.join(format!("{base}.stamp"));
    let inputs = format!(
        "assembler {}\nsdist-sha256 {sdist_sha256}\n",
        assembler_id()
    );

    let cached = fs::read_to_string(&stamp_path)
        .ok()
        .filter(|stamp| stamp.starts_with(&inputs))
        .and_then(|stamp| {
            let size = stamp.lines().find_map(|l| l.strip_prefix("tgz-size "))?;
            let ok = fs::metadata(&dist.tgz).ok()?.len().to_string() == size
                && dist.sha512.is_file()
                && dist.tree.is_dir();
            ok.then_some(())
        })
        .is_some();
    if cached {
        eprintln!("fixtures: {} is up to date", dist.tgz.display());
    } else {
        // Drop the stamp first: from here until the new one is written, the outputs
        // are in flux and must not be trusted by a run that starts meanwhile.
        let _ = fs::remove_file(&stamp_path);
        let (tgz_size, tgz_sha512) = assemble(version, sdist, &dist)?;
        util::write_atomic(
            &stamp_path,
            format!("{inputs}tgz-size {tgz_size}\ntgz-sha512 {tgz_sha512}\n").as_bytes(),
        )?;
    }
    link_mirror(&dist)?;
    Ok(dist)
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
    let hadoop =
        jar_version(&jars, "hadoop-client-api-").context("no hadoop-client-api jar in jars/")?;
    let scala = jar_version(&jars, "scala-library-").context("no scala-library jar in jars/")?;
    let scala_binary: String = scala.split('.').take(2).collect::<Vec<_>>().join(".");
    // Same shape as make-distribution.sh's RELEASE (first line is what tools parse),
    // and honest about where this build came from.
    let release = format!(
        "Spark {version} built for Hadoop {hadoop}\n\
         Build flags: -B -Pyarn -Pkubernetes -Pscala-{scala_binary} -Phadoop-3 -Phive -Phive-thriftserver\n\
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
