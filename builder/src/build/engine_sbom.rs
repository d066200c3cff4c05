//! SBOMs of the Docker Engine path's images. Built from sparkimg's Dockerfiles: the same
//! inventory as a daemonless build's, from the same layer plan (so the jars are read
//! from the distribution the context is copied from), with the OS packages and the
//! base's jars read from the built image in the daemon, after the Dockerfile's own RUNs
//! (apt-get) changed them. Built from a user's Dockerfile (`-f`, `-p FILE`, `-R FILE`),
//! which may copy any part of the context or add its own files: every jar, Python
//! package and the entrypoint read from the image's exported file system instead.
//!
//! Pure: [`from_probe`], [`read_packages`]. Effects: [`documents`] (reads jars, runs the
//! probe container, exports images).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::build::plan::{self, Variant};
use crate::build::sboms::{self, Contents, OsPackages, SbomDoc, SbomOptions};
use crate::build::BuildError;
use crate::build::BuildReport;
use crate::sbom::{jar, osdb, Package};

use crate::build::engine::{self, EngineBuild};
use crate::engine::daemon::Daemon;
use crate::engine::dockerfile;
use crate::engine::error::EngineError;

const FILE_MARK: &str = "@@sparkimg-sbom-file ";
const JARS_MARK: &str = "@@sparkimg-sbom-jars";

/// Prints the package databases and os-release after a marker line each, then every jar
/// of the image's own file system (`-xdev`: not /proc, /sys or mounts).
fn probe_script() -> String {
    let files: Vec<&str> = osdb::OS_RELEASE
        .iter()
        .copied()
        .chain([osdb::DPKG_STATUS, osdb::APK_INSTALLED])
        .collect();
    format!(
        "for f in {}; do if [ -f \"/$f\" ]; then echo \"{FILE_MARK}$f\"; cat \"/$f\"; echo; \
         fi; done; echo '{JARS_MARK}'; find / -xdev -type f -name '*.jar' 2>/dev/null; exit 0",
        files.join(" ")
    )
}

/// Pure: the probe's output → the image's OS packages (from its package database, or a
/// note) and, as base jars, the jars that are not among `ours` (the files sparkimg put
/// in, listed with their coordinates).
pub fn from_probe(out: &str, ours: &[(String, PathBuf)]) -> OsPackages {
    let mut files: BTreeMap<&str, String> = BTreeMap::new();
    let mut jars = Vec::new();
    // None: in the jar list.
    let mut current: Option<&str> = None;
    let mut started = false;
    for line in out.lines() {
        if let Some(f) = line.strip_prefix(FILE_MARK) {
            (current, started) = (Some(f), true);
            files.entry(f).or_default();
        } else if line == JARS_MARK {
            (current, started) = (None, true);
        } else if let Some(f) = current {
            let text = files.entry(f).or_default();
            text.push_str(line);
            text.push('\n');
        } else if started && line.starts_with('/') {
            jars.push(line);
        }
    }
    let mut os = osdb::os_packages(|p| files.get(p).map(|s| s.as_bytes()));
    let ours: BTreeSet<&str> = ours.iter().map(|(p, _)| p.as_str()).collect();
    os.0.extend(
        jars.into_iter()
            .filter(|j| !ours.contains(j))
            .map(jar::base_jar_package),
    );
    os
}

/// The OS packages and base jars of `image`; a note when they cannot be read (an image
/// whose base has no shell).
fn image_os_packages(daemon: &Daemon, image: &str, ours: &[(String, PathBuf)]) -> OsPackages {
    match daemon.run_sh(image, &probe_script()) {
        Ok(out) => from_probe(&out, ours),
        Err(e) => (
            Vec::new(),
            vec![format!(
                "the OS packages of {image} could not be read ({}): they are not listed",
                crate::report::chain(&e)
            )],
        ),
    }
}

/// The base as a package when the daemon knows it by a repository digest.
fn base_package(daemon: &Daemon, base: &str) -> Result<Option<crate::sbom::Package>, BuildError> {
    let Some(info) = daemon.inspect(base)? else {
        return Ok(None);
    };
    Ok(info
        .repo_digests
        .iter()
        .find_map(|d| d.rsplit_once('@'))
        .map(|(_, digest)| sboms::base_package(base, digest)))
}

/// Whether `variant`'s image is built from a user's Dockerfile, its own or the JVM
/// image's it is built FROM: then the layer plan does not say what it holds.
fn from_user_dockerfile(b: &EngineBuild, variant: Variant) -> bool {
    b.dockerfiles.contains_key(&variant) || b.dockerfiles.contains_key(&Variant::Jvm)
}

/// Whether an image built from a user's Dockerfile is on `b.base`: each user Dockerfile
/// of its chain ends `FROM ${base_img}`, and no `-b base_img=` names another image.
fn on_our_base(b: &EngineBuild, variant: Variant) -> Result<bool, BuildError> {
    if b.build_args.iter().any(|(k, _)| k == "base_img") {
        return Ok(false);
    }
    for v in BTreeSet::from([Variant::Jvm, variant]) {
        if let Some(p) = b.dockerfiles.get(&v) {
            let text = std::fs::read_to_string(p).map_err(|source| EngineError::Io {
                path: p.clone(),
                source,
            })?;
            if !dockerfile::from_base_arg(&text) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// What an image's exported file system holds, as its SBOM needs it.
#[derive(Debug, Default)]
pub struct ImageRead {
    /// Path in the image → what the jar there holds.
    pub jars: BTreeMap<String, jar::JarFacts>,
    /// pyspark, py4j and the entrypoint.
    pub others: Vec<Package>,
    /// os-release and the package databases, by path without the leading `/`.
    pub os_files: BTreeMap<String, Vec<u8>>,
    /// What could not be read.
    pub notes: Vec<String>,
}

/// Reads the tar stream of an image's file system once: every jar through
/// [`jar::scan_bytes`], the Python archives by path, the entrypoint's crates, and the
/// files of the OS package database.
pub fn read_export(tar: &mut dyn Read, spark_version: &str) -> std::io::Result<ImageRead> {
    let mut out = ImageRead::default();
    let mut ar = tar::Archive::new(tar);
    for e in ar.entries()? {
        let mut e = e?;
        let rel = e
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let path = format!("/{rel}");
        let kind = e.header().entry_type();
        if kind == tar::EntryType::Link && path.ends_with(".jar") {
            // A hard link holds the same bytes as the file it names, read before it.
            let target = e.link_name()?.map(|t| t.to_string_lossy().into_owned());
            let target = target.map(|t| format!("/{}", t.trim_start_matches("./")));
            if let Some(f) = target.and_then(|t| out.jars.get(&t).cloned()) {
                out.jars.insert(path, f);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let wanted = path.ends_with(".jar")
            || crate::layer::basefs::wants_os_database(&rel)
            || path == sboms::ENTRYPOINT;
        if !wanted {
            out.others
                .extend(sboms::python_package(&path, spark_version));
            continue;
        }
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes)?;
        if path.ends_with(".jar") {
            out.jars.insert(path, jar::scan_bytes(&bytes));
        } else if path == sboms::ENTRYPOINT {
            match sboms::entrypoint_package(&bytes) {
                Ok(p) => out.others.push(p),
                Err(e) => out
                    .notes
                    .push(format!("{path}: its crates could not be read ({e})")),
            }
        } else {
            out.os_files.insert(rel, bytes);
        }
    }
    Ok(out)
}

/// Lists every jar of an image's own file system with its sha256 (coreutils).
const BASE_JARS_PROBE: &str =
    "find / -xdev -type f -name '*.jar' -exec sha256sum {} + 2>/dev/null; exit 0";

/// Pure: `sha256sum` output → (path, sha256) of each file.
pub fn parse_sums(out: &str) -> BTreeSet<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let (sum, path) = l.split_once("  ")?;
            let ok = sum.len() == 64 && path.starts_with('/');
            ok.then(|| (path.to_string(), sum.to_string()))
        })
        .collect()
}

/// The jars of `base` as (path, sha256): one at the same path with the same bytes in an
/// image built on it is the base's. A base without a shell gives none, and a note.
fn base_jars(daemon: &Daemon, base: &str) -> (BTreeSet<(String, String)>, Option<String>) {
    match daemon.run_sh(base, BASE_JARS_PROBE) {
        Ok(out) => (parse_sums(&out), None),
        Err(e) => (
            BTreeSet::new(),
            Some(format!(
                "the jars of {base} could not be listed ({}): every jar is listed as the \
                 image's own",
                crate::report::chain(&e)
            )),
        ),
    }
}

/// What the jars of an image built from a user's Dockerfile are compared with.
pub struct Known {
    /// sha256 of the distribution's spark-core jar: an image holding it holds the
    /// distribution (the Spark package is listed).
    pub spark_core: Option<String>,
    /// sha256 → coordinate of the `--packages` jars (named by their resolution).
    pub resolved: BTreeMap<String, String>,
    /// (path, sha256) of the base's jars, and a note when they could not be listed.
    pub base_jars: (BTreeSet<(String, String)>, Option<String>),
}

fn known(
    daemon: &Daemon,
    b: &EngineBuild,
    layers: &[plan::LayerPlan],
    cache: Option<&Path>,
) -> Result<Known, BuildError> {
    let files = sboms::plan_files(layers, Variant::Jvm);
    let core = files
        .iter()
        .find(|(img, _)| img.starts_with("/opt/spark/jars/spark-core_") && img.ends_with(".jar"));
    let spark_core = match core {
        Some((_, disk)) => Some(jar::scan_cached(disk, cache, None)?.sha256),
        None => None,
    };
    let resolved = b
        .packages
        .iter()
        .map(|r| (r.sha256.clone(), r.coordinate.clone()))
        .collect();
    Ok(Known {
        spark_core,
        resolved,
        base_jars: base_jars(daemon, &b.base),
    })
}

/// Pure: the packages of an image as read from its file system: the Spark distribution
/// when it holds the distribution's spark-core jar, every jar it holds (a `--packages`
/// jar by its resolution when no pom.properties names it; one of `base_jars` marked as
/// the base's), pyspark, py4j and the entrypoint.
pub fn read_packages(
    read: &ImageRead,
    spark: &Package,
    known: &Known,
    base_jars: &BTreeSet<(String, String)>,
) -> Vec<Package> {
    // The distribution sits where its spark-core jar does: `<home>/jars/spark-core_….jar`.
    let spark = read
        .jars
        .iter()
        .find(|(_, f)| Some(&f.sha256) == known.spark_core.as_ref())
        .map(|(path, _)| {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            let home = dir.strip_suffix("/jars").unwrap_or(dir);
            let mut p = spark.clone();
            p.path = Some(home.to_string());
            p
        });
    let jars = read.jars.iter().map(|(path, f)| {
        let mut p = match known.resolved.get(&f.sha256) {
            Some(c) => jar::resolved_jar_package(path, f, c),
            None => jar::jar_package(path, f),
        };
        if base_jars.contains(&(path.clone(), f.sha256.clone())) {
            jar::mark_in_base(&mut p);
        }
        p
    });
    spark
        .into_iter()
        .chain(jars)
        .chain(read.others.iter().cloned())
        .collect()
}

/// The documents of `reference`, built from a user's Dockerfile: everything listed is
/// read from its exported file system.
fn read_documents(
    daemon: &Daemon,
    b: &EngineBuild,
    so: &SbomOptions,
    known: &Known,
    base: (Option<Package>, bool),
    id: (&str, &str, String),
) -> Result<Vec<SbomDoc>, BuildError> {
    let reference = id.0.to_string();
    let read = daemon.export(id.0, |tar| {
        read_export(tar, &b.spark_version).map_err(|source| EngineError::Io {
            path: format!("the file system of {reference}").into(),
            source,
        })
    })?;
    let mut os = osdb::os_packages(|p| read.os_files.get(p).map(Vec::as_slice));
    os.1.extend(read.notes.iter().cloned());
    // Only an image on `b.base` holds its jars as the base's.
    let (base, on_base) = base;
    let none = BTreeSet::new();
    let base_jars = match on_base {
        true => {
            os.1.extend(known.base_jars.1.clone());
            &known.base_jars.0
        }
        false => &none,
    };
    let packages = read_packages(&read, &so.spark, known, base_jars);
    Ok(sboms::read_image_documents(
        so, packages, &os, base, id, b.epoch,
    ))
}

/// Every SBOM document of the images `report` lists (built from `b`): per image, per
/// format. Each is named by the image's manifest digest once pushed, else by its image
/// ID (a daemon keeps no manifest). Jar facts are remembered in `jar_cache`.
pub fn documents(
    daemon: &Daemon,
    b: &EngineBuild,
    report: &BuildReport,
    so: &SbomOptions,
    jar_cache: Option<&Path>,
) -> Result<Vec<SbomDoc>, BuildError> {
    let layers = engine::planned_layers(b)?;
    let files: Vec<Vec<(String, PathBuf)>> = b
        .images
        .iter()
        .map(|(v, _)| match from_user_dockerfile(b, *v) {
            false => sboms::plan_files(&layers, *v),
            // Read from the image instead.
            true => Vec::new(),
        })
        .collect();
    let all: Vec<(String, PathBuf)> = files.iter().flatten().cloned().collect();
    let jars = sboms::scan_jars(&all, jar_cache, &BTreeMap::new())?;
    let base = base_package(daemon, &b.base)?;
    let any_user = b.images.iter().any(|(v, _)| from_user_dockerfile(b, *v));
    let known = match any_user {
        true => Some(known(daemon, b, &layers, jar_cache)?),
        false => None,
    };
    let mut docs = Vec::new();
    for ((files, r), (variant, _)) in files.iter().zip(&report.images).zip(&b.images) {
        let digest = match r.manifest_digest.as_str() {
            "" => r.config_digest.as_str(),
            d => d,
        };
        let id = (r.reference.as_str(), digest, r.platform.clone());
        if let (true, Some(known)) = (from_user_dockerfile(b, *variant), &known) {
            let on_base = on_our_base(b, *variant)?;
            let base = (base.clone().filter(|_| on_base), on_base);
            docs.extend(read_documents(daemon, b, so, known, base, id)?);
            continue;
        }
        let os = image_os_packages(daemon, &r.reference, files);
        let c = Contents {
            files,
            os: &os,
            base: base.clone(),
            resolved: &b.packages,
            id,
        };
        docs.extend(sboms::image_documents(
            &b.spark_version,
            so,
            c,
            &jars,
            b.epoch,
        )?);
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_jar() -> Vec<u8> {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("META-INF/maven/org.demo/demo/pom.properties", o)
            .unwrap();
        z.write_all(b"groupId=org.demo\nartifactId=demo\nversion=1.2\n")
            .unwrap();
        z.finish().unwrap().into_inner()
    }

    /// An exported file system: a jar, a hard link to it, pyspark, os-release, the dpkg
    /// status and a file no SBOM wants.
    fn exported(jar: &[u8]) -> Vec<u8> {
        let mut t = tar::Builder::new(Vec::new());
        let mut file = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, path, data).unwrap();
        };
        file("opt/spark/jars/demo-1.2.jar", jar);
        // A --packages jar without pom.properties (here: not even a zip).
        file("opt/spark/jars/org.x_y-9.jar", b"plain");
        file("opt/spark/python/lib/pyspark.zip", b"zip");
        file("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n");
        file(
            "var/lib/dpkg/status",
            b"Package: jq\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.6\n",
        );
        file("etc/hostname", b"x");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_cksum();
        t.append_link(&mut h, "opt/user/same.jar", "opt/spark/jars/demo-1.2.jar")
            .unwrap();
        t.into_inner().unwrap()
    }

    #[test]
    fn an_export_lists_exactly_the_jars_it_holds() {
        let jar = demo_jar();
        let read = read_export(&mut &exported(&jar)[..], "3.5.9").unwrap();
        let paths: Vec<&str> = read.jars.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "/opt/spark/jars/demo-1.2.jar",
                "/opt/spark/jars/org.x_y-9.jar",
                "/opt/user/same.jar"
            ]
        );
        let facts = &read.jars["/opt/user/same.jar"];
        assert_eq!(facts, &jar::scan_bytes(&jar));
        let os: Vec<&str> = read.os_files.keys().map(String::as_str).collect();
        assert_eq!(os, ["etc/os-release", "var/lib/dpkg/status"]);
        assert!(read.notes.is_empty(), "{:?}", read.notes);

        let spark = crate::sbom::spark_package("3.5.9", None, "https://x", None);
        let mut known = Known {
            spark_core: Some(facts.sha256.clone()),
            resolved: BTreeMap::from([(jar::scan_bytes(b"plain").sha256, "org.x:y:9".to_string())]),
            base_jars: Default::default(),
        };
        let base = parse_sums(&format!(
            "{}  /opt/user/same.jar\n{}  /opt/spark/jars/demo-1.2.jar\nnoise\n",
            facts.sha256,
            "0".repeat(64)
        ));
        assert_eq!(base.len(), 2);
        let packages = read_packages(&read, &spark, &known, &base);
        let from_base: Vec<&str> = packages
            .iter()
            .filter(|p| p.from_base())
            .filter_map(|p| p.path.as_deref())
            .collect();
        // Same path and bytes as in the base: the base's; same path, other bytes: not.
        assert_eq!(from_base, ["/opt/user/same.jar"]);
        let purls = |known: &Known| -> Vec<String> {
            let mut v: Vec<String> = read_packages(&read, &spark, known, &BTreeSet::new())
                .into_iter()
                .map(|p| p.purl)
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            purls(&known),
            [
                "pkg:generic/apache-spark@3.5.9",
                "pkg:maven/org.demo/demo@1.2",
                "pkg:maven/org.demo/demo@1.2",
                "pkg:maven/org.x/y@9",
                "pkg:pypi/pyspark@3.5.9",
            ]
        );
        let spark_at = read_packages(&read, &spark, &known, &BTreeSet::new())
            .into_iter()
            .find(|p| p.name == "apache-spark")
            .and_then(|p| p.path);
        assert_eq!(spark_at.as_deref(), Some("/opt/spark"));
        // Without the distribution's spark-core jar, no Spark package.
        known.spark_core = Some("other".into());
        assert!(!purls(&known).iter().any(|p| p.contains("apache-spark")));
    }

    #[test]
    fn the_probe_gives_os_packages_and_foreign_jars() {
        let out = format!(
            "{FILE_MARK}etc/os-release\nID=debian\nVERSION_ID=\"12\"\n\n\
             {FILE_MARK}var/lib/dpkg/status\nPackage: jq\nStatus: install ok installed\n\
             Architecture: amd64\nVersion: 1.6-2.1\n\nPackage: gone\n\
             Status: deinstall ok config-files\nVersion: 1\n\n\
             {JARS_MARK}\n/opt/spark/jars/a-1.0.jar\n/usr/share/java/b-2.0.jar\n"
        );
        let ours = vec![(
            "/opt/spark/jars/a-1.0.jar".to_string(),
            PathBuf::from("/d/a-1.0.jar"),
        )];
        let (pkgs, notes) = from_probe(&out, &ours);
        assert!(notes.is_empty(), "{notes:?}");
        let purls: Vec<&str> = pkgs.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:deb/debian/jq@1.6-2.1?arch=amd64&distro=debian-12",
                "pkg:generic/b@2.0",
            ]
        );
        assert_eq!(pkgs[1].path.as_deref(), Some("/usr/share/java/b-2.0.jar"));
        // No package database: a note, not an error.
        let (pkgs, notes) = from_probe(&format!("{JARS_MARK}\n"), &[]);
        assert!(pkgs.is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(probe_script().contains("var/lib/dpkg/status"));
    }
}
