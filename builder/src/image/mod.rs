//! `sparkimg build`: Spark images without a Docker daemon.
//!
//! Pure pieces: [`reference`] (names, locations), [`plan`] (which file goes into which
//! layer), [`json`] (config/manifest/index JSON), [`assemble`] (the images from built
//! layers), the overlay logic of [`basefs`] and the cache key of [`cache`]. Effects:
//! [`base`] (opening the base), [`layer`] (tar + compression + hashing), [`output`]
//! (layout and archives), and [`build_with`], which runs the plan, build and assemble
//! stages and hands the result to the publish stage.

pub mod assemble;
pub mod base;
pub mod basefs;
pub mod cache;
pub mod compress;
pub mod error;
pub mod json;
pub mod layer;
pub mod output;
pub mod plan;
pub mod rebase;
pub mod reference;
pub mod sboms;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

pub use base::{ImagePlatforms, Platform};
pub use error::BuildError;
pub use layer::{Compression, LayerBlob};
pub use plan::Variant;
pub use reference::{BaseSpec, ImageRef, OutputSpec};
pub use sboms::{SbomDoc, SbomOptions};

use basefs::{is_tzif, BaseFs, ZONEINFO};
use cache::LayerCache;
use output::{Blob, Output};
use plan::{Content, DistFile, DistKind, LayerPlan, SystemFiles};

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
    /// For the `org.opencontainers.image.source` label.
    pub source: String,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub cached: bool,
    /// The platform a layer belongs to when it is not shared by all (the system layer
    /// holds the architecture's entrypoint binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub reference: String,
    /// The digest to pin: the image manifest, or for several platforms their index.
    pub manifest_digest: String,
    /// The config (for several platforms: the first platform's; see `platforms`).
    pub config_digest: String,
    /// Manifest + config + all layers, as stored (several platforms: all of them, shared
    /// blobs counted once).
    pub size: u64,
    /// `os/arch`, or several joined with commas.
    pub platform: String,
    /// One entry per platform when the image is an index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<ImageReport>,
    /// The Docker Engine's image ID, when the image went into a daemon (the config
    /// digest, for a `--load`ed daemonless build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `repo@sha256:…` once pushed through a daemon.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub output: String,
    pub images: Vec<ImageReport>,
    pub layers: Vec<LayerReport>,
    pub layers_built: usize,
    pub layers_cached: usize,
    pub java_home: String,
    pub base: String,
    /// `--packages`: each jar baked into `/opt/spark/jars`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<plan::PackageJar>,
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

/// Pure: parse `--compression` and `--compression-level` (defaults: gzip 1, zstd 3;
/// the fast levels, since jars are already deflated and barely shrink further).
pub fn parse_compression(kind: &str, level: Option<i32>) -> Result<Compression, BuildError> {
    match kind {
        "gzip" => {
            let l = level.unwrap_or(1);
            if !(0..=9).contains(&l) {
                return Err(BuildError::usage(format!("gzip level {l} is not in 0..=9")));
            }
            Ok(Compression::Gzip(l as u32))
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

/// The `--packages` jars as distribution files under `packages/` (which the plan puts
/// in `jars/` of the `packages` layer); size and mtime key the layer cache.
pub fn package_dist(jars: &[plan::PackageJar]) -> Result<Vec<DistFile>, BuildError> {
    jars.iter()
        .map(|j| {
            let md = fs::metadata(&j.path).map_err(BuildError::io(&j.path))?;
            Ok(DistFile {
                rel: format!("{}/{}", plan::PACKAGES_DIR, j.file),
                kind: DistKind::File {
                    path: j.path.clone(),
                    size: md.len(),
                    // The path names the content (a blob by its SHA-256); its mtime only
                    // records the cache's last use, which must not change the layer key.
                    mtime_ns: 0,
                    executable: false,
                },
            })
        })
        .collect()
}

/// Walk SPARK_HOME in sorted order; symlinks are kept as links.
pub fn walk_dist(home: &Path) -> Result<Vec<DistFile>, BuildError> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(home)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
    {
        let e = e.map_err(|err| {
            let path = err.path().unwrap_or(home).to_path_buf();
            BuildError::Io {
                path,
                source: err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            }
        })?;
        let rel = match e.path().strip_prefix(home) {
            Ok(r) => r.to_string_lossy().into_owned(),
            Err(_) => continue,
        };
        let md = e.metadata().map_err(|err| BuildError::Io {
            path: e.path().to_path_buf(),
            source: err
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("stat failed")),
        })?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            DistKind::Dir
        } else if ft.is_symlink() {
            let t = fs::read_link(e.path()).map_err(BuildError::io(e.path()))?;
            DistKind::Symlink(t.to_string_lossy().into_owned())
        } else if ft.is_file() {
            DistKind::File {
                path: e.path().to_path_buf(),
                size: md.len(),
                mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
                executable: md.permissions().mode() & 0o111 != 0,
            }
        } else {
            continue; // sockets, fifos: nothing an image needs
        };
        out.push(DistFile { rel, kind });
    }
    Ok(out)
}

fn file_content(path: &Path) -> Result<Content, BuildError> {
    let md = fs::metadata(path).map_err(BuildError::io(path))?;
    Ok(Content::Path {
        path: path.to_path_buf(),
        size: md.len(),
        mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
    })
}

fn host_zone_names(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .into_owned();
            if rel.starts_with("posix/") || rel.starts_with("right/") {
                return None;
            }
            let mut magic = [0u8; 4];
            use std::io::Read;
            fs::File::open(e.path()).ok()?.read_exact(&mut magic).ok()?;
            is_tzif(&magic).then_some(rel)
        })
        .collect()
}

/// The TZif bytes for `zone`: from the base when it ships zoneinfo, else from the host.
pub fn resolve_timezone(
    zone: &str,
    basefs: &BaseFs,
    host_zoneinfo: &Path,
) -> Result<Vec<u8>, BuildError> {
    let unknown = |names: Vec<String>| BuildError::UnknownTimezone {
        zone: zone.to_string(),
        suggestions: basefs::suggest_zones(zone, &names),
    };
    let base_has_zoneinfo = basefs
        .nodes
        .keys()
        .any(|k| k.starts_with("usr/share/zoneinfo/"));
    if !basefs::valid_zone_name(zone) {
        let names = if base_has_zoneinfo {
            basefs.zone_names()
        } else {
            host_zone_names(host_zoneinfo)
        };
        return Err(unknown(names));
    }
    if base_has_zoneinfo {
        return match basefs.read(&format!("{ZONEINFO}/{zone}")) {
            Some(b) if is_tzif(b) => Ok(b.to_vec()),
            _ => Err(unknown(basefs.zone_names())),
        };
    }
    match fs::read(host_zoneinfo.join(zone)) {
        Ok(b) if is_tzif(&b) => Ok(b),
        _ => Err(unknown(host_zone_names(host_zoneinfo))),
    }
}

/// `/usr/share/zoneinfo/<zone>` when the base has that zone, for `/etc/localtime` to
/// point to (as Debian's tzdata sets it up); `None` when the zone comes from the host.
pub fn localtime_link(zone: &str, basefs: &BaseFs) -> Option<String> {
    let path = format!("{ZONEINFO}/{zone}");
    (basefs::valid_zone_name(zone) && basefs.read(&path).is_some_and(is_tzif))
        .then(|| format!("/{path}"))
}

/// The finished images before they go anywhere: every blob (each digest once), the
/// OCI index and a `docker load` manifest.json.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub blobs: Vec<Blob>,
    pub index: json::JsonBlob,
    pub docker_manifest: Vec<u8>,
    /// The SBOM documents, also among `blobs` with their referrers.
    pub sboms: Vec<SbomDoc>,
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
            BaseSpec::Rootfs { .. }
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
            return layer::build_layer(plan, opts.epoch, opts.compression, store, tee)
                .map(|b| (b, false));
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
}

use sboms::OsPackages;

/// What [`os_package_layers`] plans: the layers with their keys, and per variant the
/// dpkg status of its images after the layer.
type PackageLayers = (Vec<(LayerPlan, String)>, BTreeMap<Variant, String>);

/// The OS packages of an image on `basefs`, whose dpkg status is `status` when a
/// package layer replaced the base's.
pub(crate) fn image_os_packages(basefs: &BaseFs, status: Option<&str>) -> OsPackages {
    let mut os = crate::sbom::osdb::os_packages(|p| match status {
        Some(s) if p == crate::sbom::osdb::DPKG_STATUS => Some(s.as_bytes()),
        _ => basefs.read(p),
    });
    os.0.extend(
        basefs
            .nodes
            .iter()
            .filter(|(k, n)| k.ends_with(".jar") && matches!(n, basefs::Node::File(_)))
            .map(|(k, _)| crate::sbom::jar::base_jar_package(&format!("/{k}"))),
    );
    os
}

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
    let (os, statuses) =
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
    })
}

/// The base's Java: its config's `JAVA_HOME`, else one found in its files; none is
/// refused. One definition for `build` and `rebase`.
pub(crate) fn java_home(base: &base::BaseImage, basefs: &BaseFs) -> Result<String, BuildError> {
    let env_java = base
        .config
        .config()
        .as_ref()
        .and_then(|c| c.env().as_ref())
        .and_then(|env| {
            env.iter()
                .find_map(|l| l.strip_prefix("JAVA_HOME=").map(String::from))
        });
    env_java
        .or_else(|| basefs.java_home())
        .ok_or(BuildError::NoJava)
}

/// The system layer's files for a base: its passwd with our user, its zoneinfo (else the
/// host's) for `timezone`, and the entrypoint binary. `build` and `rebase` both use it.
pub(crate) fn system_files(
    basefs: &BaseFs,
    (timezone, uid): (&str, u64),
    host_zoneinfo: &Path,
    entrypoint: Content,
) -> Result<SystemFiles, BuildError> {
    let localtime = resolve_timezone(timezone, basefs, host_zoneinfo)?;
    let passwd = plan::passwd_with_spark(basefs.read("etc/passwd"), uid);
    Ok(SystemFiles {
        entrypoint,
        passwd: Arc::from(passwd),
        localtime: Arc::from(localtime),
        localtime_link: localtime_link(timezone, basefs),
        timezone: timezone.to_string(),
        uid,
    })
}

/// One package layer per variant that needs packages (variants needing the same set
/// get the same layer, so it is built once and shared). The base's apt indexes are
/// fetched once per platform, and only when some variant needs a package.
/// A layer found in the cache by its packages key is planned empty: it is never built
/// (see [`build_layers`]), so no package is unpacked.
fn os_package_layers(
    opts: &BuildOptions,
    basefs: &BaseFs,
    config: &oci_spec::image::ImageConfiguration,
    variants: &BTreeSet<Variant>,
    base_ids: &[String],
    cache: Option<&LayerCache>,
) -> Result<PackageLayers, BuildError> {
    let wanted: Vec<(Variant, Vec<String>)> = variants
        .iter()
        .map(|v| (*v, crate::apt::wanted(*v, basefs, &opts.apt_packages)))
        .filter(|(_, w)| !w.is_empty())
        .collect();
    let Some((first, first_wanted)) = wanted.first() else {
        return Ok(Default::default());
    };
    let needs = match crate::apt::runtime(*first) {
        Some((_, pkg)) if first_wanted.first().map(String::as_str) == Some(pkg) => {
            (first.image_name().to_string(), pkg.to_string())
        }
        _ => ("--apt-packages".to_string(), first_wanted.join(", ")),
    };
    let arch = crate::apt::deb_arch(
        config.architecture().to_string().as_str(),
        config.variant().as_deref(),
    );
    let repo = crate::apt::open(basefs, &arch, (&needs.0, &needs.1), &opts.apt)?;
    let mut built: Vec<(String, LayerPlan)> = Vec::new();
    let mut out = Vec::new();
    let mut statuses = BTreeMap::new();
    for (variant, w) in &wanted {
        let pkgs = repo.resolve(w)?;
        if pkgs.is_empty() {
            continue;
        }
        statuses.insert(*variant, repo.status_after(&pkgs));
        let ids: Vec<String> = pkgs
            .iter()
            .map(|p| format!("{} {}", p.name, p.sha256))
            .collect();
        let key = cache::packages_key(base_ids, &ids, opts.epoch, opts.compression);
        let mut layer = match built.iter().find(|(k, _)| *k == key) {
            Some((_, l)) => l.clone(),
            None => {
                let l = match cache.and_then(|c| c.get(&key)) {
                    Some(_) => LayerPlan {
                        name: crate::apt::layer::NAME,
                        only: Some(*variant),
                        entries: Vec::new(),
                    },
                    None => repo.layer(&pkgs, basefs, *variant)?,
                };
                built.push((key.clone(), l.clone()));
                l
            }
        };
        layer.only = Some(*variant);
        out.push((layer, key));
    }
    Ok((out, statuses))
}

/// Refuses an entrypoint binary built for another architecture than the image's (it
/// would fail with "exec format error" in every container). Files that are not ELF are
/// left alone: there is nothing to compare.
fn check_entrypoint_arch(path: &Path, arch: &str, want: &Platform) -> Result<(), BuildError> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let mut f = fs::File::open(path).map_err(BuildError::io(path))?;
    if f.read_exact(&mut header).is_err() {
        return Ok(());
    }
    match elf_arch(&header) {
        Some(found) if found != arch => Err(BuildError::EntrypointArch {
            path: path.to_path_buf(),
            found: found.to_string(),
            arch: arch.to_string(),
            platform: want.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Pure: the OCI architecture name of an ELF file's machine field, when known.
pub fn elf_arch(header: &[u8]) -> Option<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    // e_machine is at byte 18, in the file's byte order (EI_DATA: 1 little, 2 big).
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        _ => return None,
    };
    Some(match machine {
        3 => "386",
        8 => "mips64",
        21 => "ppc64le",
        22 => "s390x",
        40 => "arm",
        62 => "amd64",
        183 => "arm64",
        243 => "riscv64",
        _ => return None,
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
            Compression::Gzip(1)
        );
        assert_eq!(
            parse_compression("zstd", Some(5)).unwrap(),
            Compression::Zstd(5)
        );
        assert!(parse_compression("gzip", Some(12)).is_err());
        assert!(parse_compression("lz4", None).is_err());
    }
}
