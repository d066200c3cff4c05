//! The build stage's input: everything a build needs, which the CLI fills from flags
//! (and a fetched distribution), and the pure parsers of the values it takes from them.

use super::plan;
use super::BaseSpec;
use super::BuildError;
use super::ImageRef;
use super::Platform;
use super::SbomOptions;
use crate::layer::plan::Variant;
use crate::layer::Compression;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything a build needs; the CLI fills it from flags (and a fetched distribution).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The unpacked distribution.
    pub spark_home: PathBuf,
    pub spark_version: String,
    /// Images to build, e.g. `(Jvm, quay.io/x/spark:3.5.3)`.
    pub images: Vec<(Variant, ImageRef)>,
    pub base: BaseSpec,
    /// Per-platform bases that replace `base` for that platform (registry bases are
    /// pulled one platform at a time). Keyed by `os/arch[/variant]`.
    pub platform_bases: BTreeMap<String, BaseSpec>,
    /// Empty: one image for the base's platform (rootfs: the host's). More than one: an
    /// index per image, with the Spark layers built once and shared by every platform.
    pub platforms: Vec<Platform>,
    pub compression: Compression,
    /// File mtimes and `created` (SOURCE_DATE_EPOCH; 0 by default).
    pub epoch: u64,
    pub timezone: String,
    pub uid: u64,
    /// The static `spark-entrypoint` binary.
    pub entrypoint: PathBuf,
    /// Entrypoint binaries for other platforms (`os/arch[/variant]` → path); a platform
    /// without one uses `entrypoint`, which must then be built for its architecture.
    pub platform_entrypoints: BTreeMap<String, PathBuf>,
    /// Cache root (layers under `<root>/build`); `None` disables the layer cache.
    pub cache_dir: Option<PathBuf>,
    /// `--lock-timeout`: the longest wait for another process building the same layer.
    pub lock_timeout: std::time::Duration,
    /// For the `org.opencontainers.image.source` and sha512 labels.
    pub origin: super::assemble::Origin,
    /// Fallback zoneinfo when the base has none.
    pub host_zoneinfo: PathBuf,
    /// `--apt-packages`: OS packages added to every image (with python3 for spark-py
    /// and R for spark-r when the base lacks them).
    pub apt_packages: Vec<String>,
    pub apt: crate::apt::AptOptions,
    /// SBOMs to attach (`--sbom`); `None`: none.
    pub sbom: Option<SbomOptions>,
    /// `--packages`: resolved jars for the `packages` layer.
    pub packages: Vec<plan::PackageJar>,
    /// `--allow-unsupported-java`: a Java the Spark line does not run on is a warning.
    pub allow_unsupported_java: bool,
}

/// Pure: parse SOURCE_DATE_EPOCH (unset or empty → 0).
pub fn parse_epoch(v: Option<&str>) -> Result<u64, BuildError> {
    match v.map(str::trim) {
        None | Some("") => Ok(0),
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| BuildError::SourceDateEpoch(s.to_string())),
    }
}

/// Pure but for the gzip backend (this build's, [`Compression::gzip`]): parse
/// `--compression` and `--compression-level` (defaults: gzip 1, zstd 3; the fast levels,
/// since jars are already deflated and barely shrink further). A gzip level in 0–9 maps
/// onto the backend's levels (ISA-L: 0, 1, and 2 for 2–9).
pub fn parse_compression(kind: &str, level: Option<i32>) -> Result<Compression, BuildError> {
    match kind {
        "gzip" => {
            let l = level.unwrap_or(1);
            if !(0..=9).contains(&l) {
                return Err(BuildError::usage(format!("gzip level {l} is not in 0..=9")));
            }
            Ok(Compression::gzip(l as u32))
        }
        "zstd" => {
            let l = level.unwrap_or(3);
            if !(1..=19).contains(&l) {
                return Err(BuildError::usage(format!(
                    "zstd level {l} is not in 1..=19"
                )));
            }
            Ok(Compression::Zstd(l))
        }
        "none" => Ok(Compression::None),
        other => Err(BuildError::usage(format!(
            "unknown compression '{other}': use gzip, zstd or none"
        ))),
    }
}
