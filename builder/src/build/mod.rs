//! The build pipeline: everything `sparkimg build` and `rebase` do between the
//! command line and the outputs. It owns orchestration; the components it drives
//! (`fetch`, `registry`, `apt`, `maven`, `sbom`, `engine`) know nothing of it.
//!
//! [`request`] is what a build is asked to do and [`pipeline`] runs it, stage by stage.
//! Stages, each a module with a typed hand-off: [`options`] (the layer build's input),
//! [`dist`] and [`system`] (the distribution's and system layer's inputs), [`base`]
//! (opening the base), [`plan`] (which file goes into which layer), [`os_packages`]
//! (the `--apt-packages` layers), the layer build ([`build_with`], on `crate::layer`),
//! [`assemble`] and [`config`] (the images), [`sboms`], [`publish`] (files, daemon,
//! registry), [`provenance`] (what `--provenance` states) and [`report`] (what `--json` prints); [`verify`] checks an image's attachments. [`engine`], [`engine_sbom`] and
//! [`context`] are the `--engine docker` path; [`rebase`] moves an image to a new base.

pub mod assemble;
pub mod base;
pub mod config;
pub mod context;
mod dist;
pub mod engine;
pub mod engine_sbom;
pub mod error;
pub mod java;
mod options;
mod os_packages;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod provenance;
pub mod publish;
pub mod rebase;
pub mod rebuild;
mod report;
pub mod request;
pub mod sboms;
pub mod sign;
mod system;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::layer::{Compression, LayerBlob};
pub use crate::oci::{json, BaseSpec, ImageRef, OutputSpec};
pub use crate::oci::{ImagePlatforms, Platform};
use dist::file_content;
pub use dist::{package_dist, walk_dist};
pub use error::BuildError;
pub use options::{parse_compression, parse_epoch, BuildOptions};
pub(crate) use os_packages::image_os_packages;
use os_packages::os_package_layers;
pub use plan::Variant;
pub use report::{BuildReport, ImageReport, LayerReport};
pub use request::{DockerBuild, Request};
pub use sboms::{SbomDoc, SbomOptions};
use system::check_entrypoint_arch;
pub use system::{elf_arch, localtime_link, resolve_timezone};
pub(crate) use system::{java_home, system_files};

use crate::layer::basefs::{self};
use crate::layer::cache::LayerCache;
use crate::layer::{self, cache};
use output::{Blob, Output};
use plan::{DistFile, DistKind, LayerPlan, SystemFiles};

/// The finished images before they go anywhere: every blob (each digest once), the
/// OCI index and a `docker load` manifest.json.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub blobs: Vec<Blob>,
    pub index: json::JsonBlob,
    pub docker_manifest: Vec<u8>,
    /// The SBOM documents, also among `blobs` with their referrers.
    pub sboms: Vec<SbomDoc>,
    /// What the images were made from, for `--provenance` (empty for a layout read back).
    pub dependencies: provenance::Dependencies,
}

impl Assembled {
    /// As an [`Output`] to `spec` (manifest.json only in docker-archive outputs).
    pub fn to_output<'a>(&self, spec: &'a OutputSpec) -> Output<'a> {
        Output {
            spec,
            blobs: self.blobs.clone(),
            index: self.index.clone(),
            docker_manifest: matches!(spec, OutputSpec::DockerArchive(_))
                .then(|| self.docker_manifest.clone()),
        }
    }
}

/// Plan, build and assemble the images, then hand them to `publish` (the publish stage:
/// it writes, loads or pushes them while the layer store still holds every blob).
/// [`BuildReport::output`] is left empty for the caller to fill.
pub fn build_with<T, E: From<BuildError>>(
    opts: &BuildOptions,
    publish: impl FnOnce(&Assembled) -> Result<T, E>,
) -> Result<(BuildReport, T), E> {
    if opts.images.is_empty() {
        return Err(BuildError::usage("no images to build").into());
    }
    check_platform_bases(opts)?;
    let cache = opts
        .cache_dir
        .as_deref()
        .map(|d| LayerCache::new(d).with_lock_timeout(opts.lock_timeout));
    // Without a cache the blobs live in a scratch store until publishing is done.
    let scratch;
    let store: PathBuf = match &cache {
        Some(c) => c.store().to_path_buf(),
        None => {
            scratch = tempfile::Builder::new()
                .prefix("sparkimg-build-")
                .tempdir()
                .map_err(BuildError::io(std::env::temp_dir()))?;
            scratch.path().to_path_buf()
        }
    };
    let sbom = opts.sbom.as_ref().filter(|so| so.formats.any());
    // The SBOM's jar hashes are teed off the layer build's single read of each jar;
    // afterwards only central directories and pom.properties entries are read (and
    // whole jars only for layers that came from the cache, unless their facts did).
    let jar_cache = opts.cache_dir.as_deref().map(jar_facts_dir);
    let tee = sbom.map(|_| layer::JarTee::default());
    let (prepared, early) = plan_while_building(opts, &store, cache.as_ref(), tee.as_ref())?;
    let (by_key, layer_reports) =
        build_layers(opts, &prepared, &store, cache.as_ref(), tee.as_ref(), early)?;
    let jars = match tee {
        Some(t) => {
            let hashes = t.into_inner().unwrap_or_else(|p| p.into_inner());
            Some(sboms::scan(opts, &prepared, jar_cache.as_deref(), &hashes)?)
        }
        None => None,
    };
    let (mut assembled, images) = assemble::assemble(opts, &prepared, &by_key, &store);
    assembled.dependencies = provenance::of_build(opts, &prepared);
    if let (Some(so), Some(jars)) = (sbom, &jars) {
        let docs = sboms::documents(opts, so, &prepared, &images, jars)?;
        sboms::attach(&mut assembled, &docs, &json::rfc3339(opts.epoch));
        assembled.sboms = docs;
    }
    let delivered = publish(&assembled)?;
    let built_count = layer_reports.iter().filter(|l| !l.cached).count();
    let report = BuildReport {
        output: String::new(),
        images,
        layers_built: built_count,
        layers_cached: layer_reports.len() - built_count,
        layers: layer_reports,
        java_home: prepared[0].java_home.clone(),
        base: prepared[0].base.name.clone(),
        packages: opts.packages.clone(),
        signatures: Vec::new(),
    };
    Ok((report, delivered))
}

/// Where the SBOM's jar facts are remembered under the cache root (see
/// [`crate::sbom::jar::scan_cached`]).
pub fn jar_facts_dir(cache_root: &Path) -> PathBuf {
    LayerCache::new(cache_root).store().join("sbom-jars")
}

/// A root file system tarball says nothing of its architecture: used for a second
/// platform it would make an image whose binaries cannot run there.
fn check_platform_bases(opts: &BuildOptions) -> Result<(), BuildError> {
    if opts.platforms.len() < 2 {
        return Ok(());
    }
    let rootfs_for = |p: &Platform| {
        matches!(
            opts.platform_bases
                .get(&p.to_string())
                .unwrap_or(&opts.base),
            BaseSpec::Local(crate::oci::Location::Rootfs(_))
        )
    };
    match opts.platforms.iter().find(|p| rootfs_for(p)) {
        Some(p) => Err(BuildError::usage(format!(
            "a rootfs: base has no platform, so it cannot serve {p} in a multi-platform \
             build: use a multi-platform oci: layout or registry base, or one --platform"
        ))),
        None => Ok(()),
    }
}

/// The plan stage: the distribution walked once, then per platform its base opened and
/// its layers planned.
/// What the build found of a layer: its blob, and whether it came from the cache.
type Found = (LayerBlob, bool);

/// The distribution's layers do not depend on the base, so they are tarred and
/// compressed (or found in the cache) while the base is opened, pulled and read: a cold
/// base scan inflates every base layer on one core, which would otherwise idle the
/// others. Returns every platform's plan and those layers by key. When planning fails,
/// no further layer starts; the ones under way finish into the cache.
fn plan_while_building(
    opts: &BuildOptions,
    store: &Path,
    cache: Option<&LayerCache>,
    tee: Option<&layer::JarTee>,
) -> Result<(Vec<Prepared>, BTreeMap<String, Found>), BuildError> {
    let mut dist = walk_dist(&opts.spark_home)?;
    dist.extend(package_dist(&opts.packages)?);
    let variants: BTreeSet<Variant> = opts.images.iter().map(|(v, _)| *v).collect();
    plan::check_dist(&dist, &variants).map_err(|reason| BuildError::Distribution {
        path: opts.spark_home.clone(),
        reason,
    })?;
    let early: Vec<(String, LayerPlan)> = plan::dist_layers(&dist, opts.uid)
        .into_iter()
        .filter(|l| l.only.is_none_or(|o| variants.contains(&o)))
        .map(|l| (cache::plan_key(&l, opts.epoch, opts.compression), l))
        .collect();
    let early_refs: Vec<(&str, &LayerPlan)> = early.iter().map(|(k, l)| (k.as_str(), l)).collect();
    let stop = AtomicBool::new(false);
    let (prepared, built) = std::thread::scope(|s| {
        let building = s.spawn(|| build_unique(opts, &early_refs, store, cache, tee, &stop));
        let prepared = plan_platforms(opts, &dist, &variants, store, cache);
        if prepared.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let built = building
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (prepared, built)
    });
    let prepared = prepared?;
    let found = early.into_iter().map(|(k, _)| k).zip(built?).collect();
    Ok((prepared, found))
}

fn plan_platforms(
    opts: &BuildOptions,
    dist: &[DistFile],
    variants: &BTreeSet<Variant>,
    store: &Path,
    cache: Option<&LayerCache>,
) -> Result<Vec<Prepared>, BuildError> {
    let targets: Vec<Option<&Platform>> = if opts.platforms.is_empty() {
        vec![None]
    } else {
        opts.platforms.iter().map(Some).collect()
    };
    let scan_cache = cache.map(LayerCache::base_scans);
    targets
        .iter()
        .map(|target| {
            prepare_platform(
                opts,
                *target,
                dist,
                variants,
                store,
                cache,
                scan_cache.as_deref(),
            )
        })
        .collect()
}

/// The build stage: every distinct layer once (the Spark layers of all platforms plan
/// to the same key, so they are looked up, tarred and compressed a single time and
/// shared), from the cache or built in parallel into `store`.
fn build_layers(
    opts: &BuildOptions,
    prepared: &[Prepared],
    store: &Path,
    cache: Option<&LayerCache>,
    tee: Option<&layer::JarTee>,
    mut found: BTreeMap<String, Found>,
) -> Result<(BTreeMap<String, LayerBlob>, Vec<LayerReport>), BuildError> {
    let mut unique: Vec<(String, &LayerPlan, Option<String>)> = Vec::new();
    for p in prepared {
        for (layer, key) in p.layers.iter().zip(&p.keys) {
            if unique.iter().any(|(k, _, _)| k == key) {
                continue;
            }
            let shared = prepared.iter().all(|q| q.keys.contains(key));
            unique.push((key.clone(), layer, (!shared).then(|| p.platform_name())));
        }
    }
    let rest: Vec<(&str, &LayerPlan)> = unique
        .iter()
        .filter(|(k, _, _)| !found.contains_key(k))
        .map(|(k, l, _)| (k.as_str(), *l))
        .collect();
    let built = build_unique(opts, &rest, store, cache, tee, &AtomicBool::new(false))?;
    found.extend(rest.iter().map(|(k, _)| k.to_string()).zip(built));
    let layer_reports: Vec<LayerReport> = unique
        .iter()
        .filter_map(|(key, l, platform)| {
            let (b, cached) = found.get(key)?;
            Some(LayerReport {
                name: l.name.to_string(),
                digest: b.digest.clone(),
                diff_id: b.diff_id.clone(),
                size: b.size,
                cached: *cached,
                platform: platform.clone(),
            })
        })
        .collect();
    let by_key = found.into_iter().map(|(k, (b, _))| (k, b)).collect();
    Ok((by_key, layer_reports))
}

/// `plans` (key, plan) from the cache, else built in parallel into `store`, in order.
/// Once `stop` is set no further layer starts.
fn build_unique(
    opts: &BuildOptions,
    plans: &[(&str, &LayerPlan)],
    store: &Path,
    cache: Option<&LayerCache>,
    tee: Option<&layer::JarTee>,
    stop: &AtomicBool,
) -> Result<Vec<Found>, BuildError> {
    let hits: Vec<Option<LayerBlob>> = plans
        .iter()
        .map(|(k, _)| cache.and_then(|c| c.get(k)))
        .collect();
    let todo: Vec<usize> = (0..plans.len()).filter(|&i| hits[i].is_none()).collect();
    let built = layer::run_parallel(&todo, |&i| {
        let (key, plan) = plans[i];
        if stop.load(Ordering::Relaxed) {
            return Err(BuildError::Io {
                path: store.to_path_buf(),
                source: std::io::Error::other("the build stopped"),
            });
        }
        if plan.name == crate::apt::layer::NAME && plan.entries.is_empty() {
            // Planned from a cache hit that is gone now (the cache was cleaned meanwhile).
            return Err(BuildError::Io {
                path: store.to_path_buf(),
                source: std::io::Error::other(
                    "the cached os-packages layer disappeared during the build; run it again",
                ),
            });
        }
        let Some(c) = cache else {
            return Ok((
                layer::build_layer(plan, opts.epoch, opts.compression, store, tee)?,
                false,
            ));
        };
        let _lock = c.lock(key)?;
        // Another process built it while we waited.
        if let Some(b) = c.get(key) {
            return Ok((b, true));
        }
        let b = layer::build_layer(plan, opts.epoch, opts.compression, store, tee)?;
        c.put(key, &b)?;
        Ok((b, false))
    });
    let mut built = built.into_iter();
    hits.into_iter()
        .map(|hit| match hit {
            Some(b) => Ok((b, true)),
            None => built
                .next()
                .expect("run_parallel returns one result per job"),
        })
        .collect()
}

/// One platform's base and plan, ready for the shared layer build.
struct Prepared {
    base: base::BaseImage,
    base_config: serde_json::Value,
    java_home: String,
    layers: Vec<LayerPlan>,
    keys: Vec<String>,
    /// The base's OS packages and jars, and notes on what could not be listed (SBOMs).
    os_packages: OsPackages,
    /// The same for the images of a variant with an os-packages layer: the packages of
    /// the dpkg status after that layer.
    variant_os_packages: BTreeMap<Variant, OsPackages>,
    /// The `.deb` packages the OS-package layers install (for provenance).
    debs: Vec<crate::sign::provenance::Dependency>,
}

use sboms::OsPackages;

/// What [`os_package_layers`] plans: the layers with their keys, per variant the dpkg
/// status of its images after the layer, and the packages installed (for provenance).
type PackageLayers = (
    Vec<(LayerPlan, String)>,
    BTreeMap<Variant, String>,
    Vec<crate::sign::provenance::Dependency>,
);

impl Prepared {
    fn platform_name(&self) -> String {
        self.base.platform_name()
    }
}

/// Opens the base for `target` (None: the base's own platform), reads what the image
/// needs from it, and plans the layers with that platform's entrypoint binary.
fn prepare_platform(
    opts: &BuildOptions,
    target: Option<&Platform>,
    dist: &[DistFile],
    variants: &BTreeSet<Variant>,
    store: &Path,
    cache: Option<&LayerCache>,
    scan_cache: Option<&Path>,
) -> Result<Prepared, BuildError> {
    let want = target.cloned().unwrap_or_else(Platform::host);
    let base_spec = opts
        .platform_bases
        .get(&want.to_string())
        .unwrap_or(&opts.base);
    let base = base::open(base_spec, &want, opts.compression, store, cache)?;
    let arch = base.config.architecture().to_string();
    if target.is_some() && arch != want.arch {
        return Err(BuildError::Base(format!(
            "the base image is {arch}, not {want}"
        )));
    }
    let base_config =
        serde_json::to_value(&base.config).map_err(|e| BuildError::Base(format!("config: {e}")))?;
    let base_layers: Vec<(&Path, &str)> = base
        .layers
        .iter()
        .map(|l| (l.path.as_path(), l.blob.digest.as_str()))
        .collect();
    let basefs = basefs::scan(&base_layers, scan_cache)?;
    let java_home = java_home(&base, &basefs)?;
    java::check(
        &opts.spark_version,
        java::of_image(&base, &java_home, &basefs).as_ref(),
        &base.name,
        opts.allow_unsupported_java,
    )?;
    let os_packages = image_os_packages(&basefs, None);

    let entrypoint = opts
        .platform_entrypoints
        .get(&want.to_string())
        .unwrap_or(&opts.entrypoint);
    if !entrypoint.is_file() {
        return Err(BuildError::NoEntrypoint {
            path: Some(entrypoint.clone()),
        });
    }
    check_entrypoint_arch(entrypoint, &arch, &want)?;
    let sys = system_files(
        &basefs,
        (&opts.timezone, opts.uid),
        &opts.host_zoneinfo,
        file_content(entrypoint)?,
    )?;
    // The OS packages first (right after the base), then only the Spark layers some
    // requested image uses.
    let base_ids: Vec<String> = base.layers.iter().map(|l| l.blob.diff_id.clone()).collect();
    let (os, statuses, debs) =
        os_package_layers(opts, &basefs, &base.config, variants, &base_ids, cache)?;
    let (mut layers, mut keys): (Vec<LayerPlan>, Vec<String>) = os.into_iter().unzip();
    let variant_os_packages = statuses
        .iter()
        .map(|(v, s)| (*v, image_os_packages(&basefs, Some(s))))
        .collect();
    for l in plan::plan_layers(dist, &sys) {
        if l.only.is_none_or(|o| variants.contains(&o)) {
            keys.push(cache::plan_key(&l, opts.epoch, opts.compression));
            layers.push(l);
        }
    }
    Ok(Prepared {
        base,
        base_config,
        java_home,
        layers,
        keys,
        os_packages,
        variant_os_packages,
        debs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_machine_names() {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(b"\x7fELF");
        h[5] = 1;
        h[18] = 62;
        assert_eq!(elf_arch(&h), Some("amd64"));
        h[18] = 183;
        assert_eq!(elf_arch(&h), Some("arm64"));
        h[5] = 2;
        h[18] = 0;
        h[19] = 22;
        assert_eq!(elf_arch(&h), Some("s390x"));
        assert_eq!(elf_arch(b"#!/bin/sh\nexec true\n"), None);
        assert_eq!(elf_arch(&h[..10]), None);
    }

    #[test]
    fn epoch_and_compression() {
        assert_eq!(parse_epoch(None).unwrap(), 0);
        assert_eq!(parse_epoch(Some("1700000000")).unwrap(), 1_700_000_000);
        assert!(matches!(
            parse_epoch(Some("yesterday")),
            Err(BuildError::SourceDateEpoch(_))
        ));
        assert!(parse_epoch(Some("-1")).is_err());
        assert_eq!(
            parse_compression("gzip", None).unwrap(),
            Compression::gzip(1)
        );
        assert_eq!(
            parse_compression("zstd", Some(5)).unwrap(),
            Compression::Zstd(5)
        );
        assert!(parse_compression("gzip", Some(12)).is_err());
        assert!(parse_compression("lz4", None).is_err());
    }
}
