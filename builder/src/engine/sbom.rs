//! SBOMs of the Docker Engine path's images: the same inventory as a daemonless build's,
//! from the same layer plan (so the jars are read from the distribution the context is
//! copied from), with the OS packages and the base's jars read from the built image in
//! the daemon, after the Dockerfile's own RUNs (apt-get) changed them.
//!
//! Pure: [`from_probe`]. Effects: [`documents`] (reads jars, runs the probe container).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::image::sboms::{self, Contents, OsPackages, SbomDoc, SbomOptions};
use crate::image::BuildReport;
use crate::sbom::{jar, osdb};

use super::build::{self, EngineBuild};
use super::daemon::Daemon;
use super::error::EngineError;

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
/// without a shell, built from a user's Dockerfile).
fn image_os_packages(daemon: &Daemon, image: &str, ours: &[(String, PathBuf)]) -> OsPackages {
    match daemon.run_sh(image, &probe_script()) {
        Ok(out) => from_probe(&out, ours),
        Err(e) => (
            Vec::new(),
            vec![format!(
                "the OS packages of {image} could not be read ({e}): they are not listed"
            )],
        ),
    }
}

/// The base as a package when the daemon knows it by a repository digest.
fn base_package(daemon: &Daemon, base: &str) -> Result<Option<crate::sbom::Package>, EngineError> {
    let Some(info) = daemon.inspect(base)? else {
        return Ok(None);
    };
    Ok(info
        .repo_digests
        .iter()
        .find_map(|d| d.rsplit_once('@'))
        .map(|(_, digest)| sboms::base_package(base, digest)))
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
) -> Result<Vec<SbomDoc>, EngineError> {
    let layers = build::planned_layers(b)?;
    let files: Vec<Vec<(String, PathBuf)>> = b
        .images
        .iter()
        .map(|(v, _)| sboms::plan_files(&layers, *v))
        .collect();
    let all: Vec<(String, PathBuf)> = files.iter().flatten().cloned().collect();
    let jars = sboms::scan_jars(&all, jar_cache, &BTreeMap::new())?;
    let base = base_package(daemon, &b.base)?;
    let mut docs = Vec::new();
    for (files, r) in files.iter().zip(&report.images) {
        let os = image_os_packages(daemon, &r.reference, files);
        let digest = match r.manifest_digest.as_str() {
            "" => r.config_digest.as_str(),
            d => d,
        };
        let c = Contents {
            files,
            os: &os,
            base: base.clone(),
            resolved: &b.packages,
            id: (&r.reference, digest, r.platform.clone()),
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
