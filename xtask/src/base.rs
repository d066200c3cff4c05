//! `cargo xtask fixtures --base`: a Debian root file system with Java 17 and Python
//! for the end-to-end images, built with mmdebstrap from the machine's own Debian
//! mirror (no registry has to be reachable; see
//! /work/shared/research/e2e-feasibility.md §3).
//!
//! Layout under `target/fixtures/base/`:
//!   bookworm-jre17.tar     the root file system, uncompressed (a layer as is)
//!   bookworm-jre17.json    what is where inside it: java home, python3, nss_wrapper,
//!                          package versions, size, sha256
//!   bookworm-jre17.stamp   the inputs it was built from, then its size and sha256
//!
//! mmdebstrap writes under a temporary name that is renamed into place, and the stamp
//! is written last, so an interrupted build is never trusted. `--docker-base` then
//! imports the tar into the local Docker Engine (which has no images and cannot pull).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::util::{self, human_size, Step};

/// Bump when the build changes in a way [`inputs`] does not capture.
const REVISION: u32 = 1;
const SUITE: &str = "bookworm";
const NAME: &str = "bookworm-jre17";
pub const DOCKER_IMAGE: &str = "sparkimg-fixture/base:bookworm-jre17";

/// A flavour of the base: its Debian suite and packages, then `hooks` (mmdebstrap
/// customize hooks).
pub struct Variant {
    pub name: &'static str,
    /// The Debian release (`bookworm`); -updates and -security come with it.
    pub suite: &'static str,
    /// Whether the release has `usr-is-merged`, which [`MERGED_USR_HOOKS`] installs
    /// (bookworm on; bullseye's minbase is not merged-/usr and needs no usrmerge).
    merged_usr: bool,
    pub docker_image: &'static str,
    packages: &'static [&'static str],
    hooks: &'static [&'static str],
    /// Paths that must be in the tar, and paths that must not.
    present: &'static [&'static str],
    absent: &'static [&'static str],
}

/// The base as it has always been.
pub const FULL: Variant = Variant {
    name: NAME,
    suite: SUITE,
    merged_usr: true,
    docker_image: DOCKER_IMAGE,
    packages: &PACKAGES,
    hooks: &[],
    present: &WITH_PYTHON,
    absent: &[],
};

const WITH_PYTHON: [&str; 2] = ["/usr/bin/python3", "/usr/share/zoneinfo/Asia/Shanghai"];

/// A JVM-only base without python3 (`--jvm-only-base`), the case of the default
/// eclipse-temurin base: spark-py on it must get python3 from sparkimg's package layer.
pub const JVM_ONLY: Variant = Variant {
    name: "bookworm-jre17-nopython",
    suite: SUITE,
    merged_usr: true,
    docker_image: "sparkimg-fixture/base:bookworm-jre17-nopython",
    packages: &["openjdk-17-jre-headless", "tzdata", "libnss-wrapper"],
    hooks: &[],
    present: &["/usr/share/zoneinfo/Asia/Shanghai"],
    absent: &["usr/bin/python3"],
};

/// The base with no shell at all (issue 14): bash and dash are purged after the
/// install, the way a distroless image never has them. Their maintainer scripts are
/// deleted first: dpkg would run them with the very shell being removed. One dpkg call
/// purges both, so its start-up check still finds `sh`; `--no-triggers` because the
/// trigger it would run (debianutils' update-shells) is a shell script too, so that
/// package stays `triggers-pending`, installed all the same.
pub const NOSHELL: Variant = Variant {
    name: "bookworm-jre17-noshell",
    suite: SUITE,
    merged_usr: true,
    docker_image: "sparkimg-fixture/base:bookworm-jre17-noshell",
    packages: &PACKAGES,
    hooks: &[
        "rm -f \"$1\"/var/lib/dpkg/info/bash.preinst \"$1\"/var/lib/dpkg/info/bash.postinst \"$1\"/var/lib/dpkg/info/bash.prerm \"$1\"/var/lib/dpkg/info/bash.postrm \"$1\"/var/lib/dpkg/info/dash.preinst \"$1\"/var/lib/dpkg/info/dash.postinst \"$1\"/var/lib/dpkg/info/dash.prerm \"$1\"/var/lib/dpkg/info/dash.postrm",
        "chroot \"$1\" dpkg --purge --no-triggers --force-remove-essential --force-depends bash dash",
    ],
    present: &WITH_PYTHON,
    absent: &[
        "usr/bin/sh",
        "bin/sh",
        "usr/bin/bash",
        "usr/bin/dash",
        "bin/bash",
        "bin/dash",
    ],
};
/// The Java each Spark line runs on that the reachable Debian mirror has (issue 18):
/// 11 for 3.0–3.2 (bullseye), 17 for 3.3–4.x (bookworm: [`FULL`]; bullseye for 3.3,
/// see [`BULLSEYE_JRE17`]), 21 for 4.x (trixie). Each has what [`FULL`] has: python3,
/// tzdata, procps, libnss-wrapper.
pub const BULLSEYE_JRE11: Variant = Variant {
    name: "bullseye-jre11",
    suite: "bullseye",
    merged_usr: false,
    docker_image: "sparkimg-fixture/base:bullseye-jre11",
    packages: &[
        "openjdk-11-jre-headless",
        "python3",
        "tzdata",
        "procps",
        "libnss-wrapper",
    ],
    hooks: &[],
    present: &WITH_PYTHON,
    absent: &[],
};

/// Bullseye with Java 17, for Spark 3.3: its bundled cloudpickle cannot pickle on
/// bookworm's Python 3.11 (Python 3.11 support came with 3.4); bullseye's python3 is
/// 3.9, and bullseye has OpenJDK 17 too.
pub const BULLSEYE_JRE17: Variant = Variant {
    name: "bullseye-jre17",
    suite: "bullseye",
    merged_usr: false,
    docker_image: "sparkimg-fixture/base:bullseye-jre17",
    packages: &PACKAGES,
    hooks: &[],
    present: &WITH_PYTHON,
    absent: &[],
};

/// Trixie with Java 21, for the 4.x lines (see [`BULLSEYE_JRE11`]).
pub const TRIXIE_JRE21: Variant = Variant {
    name: "trixie-jre21",
    suite: "trixie",
    merged_usr: true,
    docker_image: "sparkimg-fixture/base:trixie-jre21",
    packages: &[
        "openjdk-21-jre-headless",
        "python3",
        "tzdata",
        "procps",
        "libnss-wrapper",
    ],
    hooks: &[],
    present: &WITH_PYTHON,
    absent: &[],
};

/// The bases of the per-line matrix, oldest Java first.
pub const LINE_BASES: [&Variant; 4] = [&BULLSEYE_JRE11, &BULLSEYE_JRE17, &FULL, &TRIXIE_JRE21];

impl Variant {
    /// The Java feature release of its `openjdk-<N>-jre-headless` package.
    pub fn java(&self) -> Option<u32> {
        self.packages.iter().find_map(|p| {
            p.strip_prefix("openjdk-")?
                .strip_suffix("-jre-headless")?
                .parse()
                .ok()
        })
    }
}

const PACKAGES: [&str; 5] = [
    "openjdk-17-jre-headless",
    "python3",
    "tzdata",
    "procps",
    "libnss-wrapper",
];
/// Without this hook dir bookworm's minbase installs `usrmerge`, which pulls in
/// perl (~50 MB); with it the tree is merged-/usr from the start.
const MERGED_USR_HOOKS: &str = "/usr/share/mmdebstrap/hooks/merged-usr";

/// Slimming that costs nothing at build time: no man pages, docs (but copyrights),
/// info or message catalogs (but locale.alias). Zoneinfo stays: Spark and the
/// entrypoint tests need /usr/share/zoneinfo. The essential hook pre-creates the
/// man1 directory openjdk's postinst links its man pages into (update-alternatives
/// fails without it).
const OPTIONS: [&str; 8] = [
    "--aptopt=Apt::Install-Recommends \"false\"",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-include=/usr/share/locale/locale.alias",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--essential-hook=mkdir -p \"$1/usr/share/man/man1\"",
];

/// What [`ensure`] produced.
pub struct Base {
    pub tar: PathBuf,
    pub meta: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub java_home: String,
}

/// Builds the base tar unless the stamp says an identical one is already there.
pub fn ensure() -> Result<Base> {
    ensure_variant(&FULL)
}

/// [`ensure`] for one [`Variant`].
pub fn ensure_variant(variant: &Variant) -> Result<Base> {
    let name = variant.name;
    let dir = util::target_dir().join("fixtures").join("base");
    fs::create_dir_all(&dir)?;
    util::remove_stale_temporaries(&dir);
    let tar = dir.join(format!("{name}.tar"));
    let meta = dir.join(format!("{name}.json"));
    let stamp_path = dir.join(format!("{name}.stamp"));
    let mirrors = mirrors(variant.suite)?;
    let inputs = inputs(&mirrors, variant);

    if let Some(base) = cached(&tar, &meta, &stamp_path, &inputs) {
        eprintln!("fixtures: {} is up to date", tar.display());
        return Ok(base);
    }
    ensure!(
        util::have("mmdebstrap"),
        "mmdebstrap is missing (apt-get install mmdebstrap; .ci/run installs it)"
    );
    let _ = fs::remove_file(&stamp_path);
    let step = Step::start(format!(
        "fixtures: mmdebstrap {name}.tar (about 1 min, once)"
    ));
    let tmp = util::temp_sibling(&tar);
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--variant=minbase", "--format=tar"])
        .arg(format!("--include={}", variant.packages.join(",")))
        .args(OPTIONS)
        .args(
            variant
                .hooks
                .iter()
                .map(|h| format!("--customize-hook={h}")),
        );
    if merged_usr_hooks(variant) {
        cmd.arg(format!("--hook-dir={MERGED_USR_HOOKS}"));
    }
    cmd.arg(variant.suite)
        .arg(&tmp)
        .args(&mirrors)
        .stdin(Stdio::null());
    let built = util::run(&mut cmd);
    if built.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    built?;
    step.done();

    let step = Step::start(format!("fixtures: inspect {name}.tar"));
    let described = describe(&tmp, variant);
    if described.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    let mut info = described?;
    let size = fs::metadata(&tmp)?.len();
    let sha256 = util::sha_file("sha256sum", &tmp)?;
    info["suite"] = json!(variant.suite);
    info["packages_requested"] = json!(variant.packages);
    info["mirrors"] = json!(mirrors);
    info["size"] = json!(size);
    info["sha256"] = json!(sha256);
    info["docker_image"] = json!(variant.docker_image);
    fs::rename(&tmp, &tar)?;
    util::write_atomic(&meta, serde_json::to_string_pretty(&info)?.as_bytes())?;
    util::write_atomic(
        &stamp_path,
        format!("{inputs}tar-size {size}\ntar-sha256 {sha256}\n").as_bytes(),
    )?;
    step.done();
    eprintln!(
        "fixtures: {} is {} ({size} bytes)",
        tar.display(),
        human_size(size)
    );
    let java_home = info["java_home"].as_str().unwrap_or_default().to_string();
    Ok(Base {
        tar,
        meta,
        size,
        sha256,
        java_home,
    })
}

/// Whether mmdebstrap gets [`MERGED_USR_HOOKS`] for `variant`.
fn merged_usr_hooks(variant: &Variant) -> bool {
    variant.merged_usr && Path::new(MERGED_USR_HOOKS).is_dir()
}

/// Everything that decides the tar's content, one item per line.
fn inputs(mirrors: &[String], variant: &Variant) -> String {
    let mut s = format!(
        "revision {REVISION}\nsuite {}\nvariant minbase\ninclude {}\n",
        variant.suite,
        variant.packages.join(",")
    );
    for opt in OPTIONS {
        s += &format!("option {opt}\n");
    }
    for hook in variant.hooks {
        s += &format!("customize-hook {hook}\n");
    }
    s += &format!("merged-usr-hooks {}\n", merged_usr_hooks(variant));
    for m in mirrors {
        s += &format!("mirror {m}\n");
    }
    s
}

fn cached(tar: &Path, meta: &Path, stamp_path: &Path, inputs: &str) -> Option<Base> {
    let stamp = fs::read_to_string(stamp_path).ok()?;
    let rest = stamp.strip_prefix(inputs)?;
    let size: u64 = rest
        .lines()
        .find_map(|l| l.strip_prefix("tar-size "))?
        .parse()
        .ok()?;
    let sha256 = rest.lines().find_map(|l| l.strip_prefix("tar-sha256 "))?;
    if fs::metadata(tar).ok()?.len() != size {
        return None;
    }
    let info: Value = serde_json::from_slice(&fs::read(meta).ok()?).ok()?;
    if info.get("sha256")?.as_str()? != sha256 {
        return None;
    }
    Some(Base {
        tar: tar.to_path_buf(),
        meta: meta.to_path_buf(),
        size,
        sha256: sha256.to_string(),
        java_home: info.get("java_home")?.as_str()?.to_string(),
    })
}

/// Finds what the e2e tests need inside the tar (and fails if something is missing):
/// the Java home, python3, libnss_wrapper.so, a zoneinfo file, and package versions.
fn describe(tar: &Path, variant: &Variant) -> Result<Value> {
    let listing = util::output(Command::new("tar").arg("--list").arg("--file").arg(tar))?;
    let entries: Vec<&str> = listing
        .lines()
        .map(|l| l.trim_start_matches("./"))
        .collect();
    let has = |path: &str| entries.contains(&path.trim_start_matches('/'));
    let java = entries
        .iter()
        .find(|e| e.starts_with("usr/lib/jvm/") && e.ends_with("/bin/java"))
        .context("no usr/lib/jvm/*/bin/java in the base tar")?;
    let java_home = format!("/{}", java.trim_end_matches("/bin/java"));
    let nss_wrapper = entries
        .iter()
        .find(|e| e.starts_with("usr/lib/") && e.ends_with("/libnss_wrapper.so"))
        .map(|e| format!("/{e}"))
        .context("no libnss_wrapper.so in the base tar")?;
    for path in variant.present {
        ensure!(has(path), "no {path} in the {} base tar", variant.name);
    }
    for path in variant.absent {
        ensure!(!has(path), "{path} is in the {} base tar", variant.name);
    }

    let status = util::output(
        Command::new("tar")
            .args(["--extract", "--to-stdout", "--file"])
            .arg(tar)
            .arg("./var/lib/dpkg/status"),
    )?;
    let versions = installed_versions(&status);
    let mut packages = serde_json::Map::new();
    for name in variant.packages {
        let version = versions
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, v)| v.clone())
            .with_context(|| format!("{name} is not installed in the base tar"))?;
        packages.insert(name.to_string(), json!(version));
    }
    Ok(json!({
        "java_home": java_home,
        "java": format!("{java_home}/bin/java"),
        "python3": has("/usr/bin/python3").then_some("/usr/bin/python3"),
        "nss_wrapper": nss_wrapper,
        "packages": packages,
        "package_count": versions.len(),
    }))
}

/// `(package, version)` of every installed package in a dpkg status file.
fn installed_versions(status: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for para in status.split("\n\n") {
        let field = |key: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        };
        // `triggers-pending`: installed, a trigger not run (the shell-free base).
        let installed = field("Status")
            .is_some_and(|s| s.ends_with(" installed") || s.ends_with(" triggers-pending"));
        if let (true, Some(p), Some(v)) = (installed, field("Package"), field("Version")) {
            out.push((p, v));
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// The Debian mirror

/// The machine's configured Debian mirror for `suite`, as one-line `deb` entries
/// (`deb URI SUITE COMPONENTS`) for mmdebstrap: the suite itself, -updates and
/// -security when configured, components as configured. For another release than the
/// host's, the host's entries with the release name replaced: the same mirrors carry
/// every supported release (bullseye, bookworm, trixie).
fn mirrors(suite: &str) -> Result<Vec<String>> {
    let mut entries = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    files.sort();
    files.insert(0, PathBuf::from("/etc/apt/sources.list"));
    for file in files {
        let name = file.to_string_lossy();
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        if name.ends_with(".sources") {
            entries.extend(parse_deb822(&text));
        } else if name.ends_with(".list") {
            entries.extend(parse_one_line(&text));
        }
    }
    let out = suite_entries(&entries, suite);
    ensure!(
        !out.is_empty(),
        "no Debian mirror configured in /etc/apt/sources.list{{,.d}}"
    );
    Ok(out)
}

/// [`mirrors`]' choice among the configured `entries`.
fn suite_entries(entries: &[Entry], suite: &str) -> Vec<String> {
    let ours = |s: &str, release: &str| s == release || s.starts_with(&format!("{release}-"));
    // The release the host is configured for: the first suite without a `-pocket`.
    let host = entries
        .iter()
        .map(|(_, s, _)| s.as_str())
        .find(|s| !s.contains('-'))
        .unwrap_or(suite);
    let mut out: Vec<String> = Vec::new();
    for (uri, configured, components) in entries {
        let mapped = if ours(configured, suite) {
            configured.clone()
        } else if ours(configured, host) {
            format!("{suite}{}", &configured[host.len()..])
        } else {
            continue;
        };
        let line = format!("deb {uri} {mapped} {}", components.join(" "));
        if !out.contains(&line) {
            out.push(line);
        }
    }
    if out.is_empty() {
        if let Some((uri, _, _)) = entries.iter().find(|(_, s, _)| !s.contains("security")) {
            out.push(format!("deb {uri} {suite} main"));
        }
    }
    out
}

type Entry = (String, String, Vec<String>);

/// `Types: deb` stanzas of a deb822 `.sources` file → (uri, suite, components).
fn parse_deb822(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut para: Vec<(String, String)> = Vec::new();
    let flush = |para: &mut Vec<(String, String)>, out: &mut Vec<Entry>| {
        let get = |key: &str| {
            para.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let enabled = get("Enabled").first().is_none_or(|v| v != "no");
        if enabled && get("Types").iter().any(|t| t == "deb") {
            let components = get("Components");
            for uri in get("URIs") {
                for suite in get("Suites") {
                    out.push((uri.clone(), suite, components.clone()));
                }
            }
        }
        para.clear();
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut para, &mut out);
        } else if line.starts_with('#') {
            continue;
        } else if line.starts_with([' ', '\t']) {
            if let Some(last) = para.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            para.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    flush(&mut para, &mut out);
    out
}

/// `deb [options] URI SUITE COMPONENT…` lines → (uri, suite, components).
fn parse_one_line(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r.split_once(']').map_or("", |(_, r)| r),
            None => rest,
        };
        let mut words = rest.split_whitespace().map(str::to_string);
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            out.push((uri, suite, words.collect()));
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Docker

/// Imports the base tar as [`DOCKER_IMAGE`] when a Docker Engine answers; the image
/// comment records the tar's sha256, so an up-to-date image is not imported again.
pub fn docker_import(base: &Base) -> Result<()> {
    docker_import_variant(base, &FULL)
}

/// [`docker_import`] of a [`Variant`]'s tar as its image.
pub fn docker_import_variant(base: &Base, variant: &Variant) -> Result<()> {
    let (name, image) = (variant.name, variant.docker_image);
    if util::docker_engine().is_none() {
        eprintln!("fixtures: no Docker Engine reachable; not importing {image}");
        return Ok(());
    }
    let comment = format!("sparkimg fixture {name}.tar sha256:{}", base.sha256);
    let current = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Comment}}", image])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if current.as_deref() == Some(comment.as_str()) {
        eprintln!("fixtures: docker image {image} is up to date");
        return Ok(());
    }
    let step = Step::start(format!(
        "fixtures: docker import {image} (a few seconds, once)"
    ));
    // A tarball import has no config at all; give it the PATH Debian's images have.
    let out = util::output(
        Command::new("docker")
            .arg("import")
            .args([
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ])
            .args(["--message", &comment])
            .arg(&base.tar)
            .arg(image),
    )?;
    if !out.trim().starts_with("sha256:") {
        bail!("docker import printed {out:?}, not an image id");
    }
    step.done();
    eprintln!("fixtures: docker image {image} = {}", out.trim());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_sources() {
        let text = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
Enabled: yes
";
        assert_eq!(
            parse_deb822(text),
            vec![
                (
                    "http://deb.debian.org/debian".into(),
                    "bookworm".into(),
                    vec!["main".into()]
                ),
                (
                    "http://deb.debian.org/debian".into(),
                    "bookworm-updates".into(),
                    vec!["main".into()]
                ),
                (
                    "http://deb.debian.org/debian-security".into(),
                    "bookworm-security".into(),
                    vec!["main".into(), "contrib".into()]
                ),
            ]
        );
    }

    #[test]
    fn one_line_sources() {
        let text = "# comment\n\
                    deb [signed-by=/k.gpg arch=amd64] http://m.example/debian bookworm main\n\
                    deb-src http://m.example/debian bookworm main\n\
                    deb http://m.example/debian-security bookworm-security main # x\n";
        assert_eq!(
            parse_one_line(text),
            vec![
                (
                    "http://m.example/debian".into(),
                    "bookworm".into(),
                    vec!["main".into()]
                ),
                (
                    "http://m.example/debian-security".into(),
                    "bookworm-security".into(),
                    vec!["main".into()]
                ),
            ]
        );
    }

    #[test]
    fn other_releases_use_the_hosts_mirrors() {
        let entries: Vec<Entry> = [
            ("http://m/debian", "bookworm"),
            ("http://m/debian", "bookworm-updates"),
            ("http://m/debian-security", "bookworm-security"),
        ]
        .iter()
        .map(|(u, s)| (u.to_string(), s.to_string(), vec!["main".to_string()]))
        .collect();
        assert_eq!(
            suite_entries(&entries, "bookworm"),
            [
                "deb http://m/debian bookworm main",
                "deb http://m/debian bookworm-updates main",
                "deb http://m/debian-security bookworm-security main"
            ]
        );
        assert_eq!(
            suite_entries(&entries, "trixie"),
            [
                "deb http://m/debian trixie main",
                "deb http://m/debian trixie-updates main",
                "deb http://m/debian-security trixie-security main"
            ]
        );
        assert_eq!(
            suite_entries(&entries[..1], "bullseye"),
            ["deb http://m/debian bullseye main"]
        );
        assert!(suite_entries(&[], "bullseye").is_empty());
    }

    #[test]
    fn dpkg_status_versions() {
        let status = "Package: tzdata\nStatus: install ok installed\nVersion: 2025b-0+deb12u1\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                      Package: debianutils\nStatus: install ok triggers-pending\nVersion: 5.7-0.5~deb12u1\n";
        assert_eq!(
            installed_versions(status),
            vec![
                ("tzdata".to_string(), "2025b-0+deb12u1".to_string()),
                ("debianutils".to_string(), "5.7-0.5~deb12u1".to_string())
            ]
        );
    }
}
