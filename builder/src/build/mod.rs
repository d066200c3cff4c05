//! `sparkimg build`: Spark images without a Docker daemon.
//!
//! Pure pieces: [`reference`] (names, locations), [`plan`] (which file goes into which
//! layer), [`image`] (config/manifest/index JSON), the overlay logic of [`basefs`] and
//! the cache key of [`cache`]. Effects: [`base`] (opening the base), [`layer`] (tar +
//! compression + hashing), [`output`] (layout and archives), and [`build`], which ties
//! them together.

pub mod base;
pub mod basefs;
pub mod cache;
pub mod error;
pub mod image;
pub mod layer;
pub mod output;
pub mod plan;
pub mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use base::Platform;
pub use error::BuildError;
pub use layer::{Compression, LayerBlob};
pub use plan::Variant;
pub use reference::{BaseSpec, ImageRef, OutputSpec};

use basefs::{is_tzif, BaseFs, ZONEINFO};
use cache::LayerCache;
use output::{Blob, BlobSource, Output};
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
    pub output: OutputSpec,
    /// `None`: the base's (rootfs: the host's).
    pub platform: Option<Platform>,
    pub compression: Compression,
    /// File mtimes and `created` (SOURCE_DATE_EPOCH; 0 by default).
    pub epoch: u64,
    pub timezone: String,
    pub uid: u64,
    /// The static `spark-entrypoint` binary.
    pub entrypoint: PathBuf,
    /// Cache root (layers under `<root>/build`); `None` disables the layer cache.
    pub cache_dir: Option<PathBuf>,
    /// For the `org.opencontainers.image.source` label.
    pub source: String,
    /// Fallback zoneinfo when the base has none.
    pub host_zoneinfo: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub cached: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub reference: String,
    pub manifest_digest: String,
    pub config_digest: String,
    /// Manifest + config + all layers, as stored.
    pub size: u64,
    pub platform: String,
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
                return Err(BuildError::InvalidInput(format!(
                    "gzip level {l} is not in 0..=9"
                )));
            }
            Ok(Compression::Gzip(l as u32))
        }
        "zstd" => {
            let l = level.unwrap_or(3);
            if !(1..=19).contains(&l) {
                return Err(BuildError::InvalidInput(format!(
                    "zstd level {l} is not in 1..=19"
                )));
            }
            Ok(Compression::Zstd(l))
        }
        "none" => Ok(Compression::None),
        other => Err(BuildError::InvalidInput(format!(
            "unknown compression '{other}': use gzip, zstd or none"
        ))),
    }
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

fn check_dist(home: &Path, dist: &[DistFile]) -> Result<(), BuildError> {
    // docker-image-tool.sh's check: no Spark jars means this is not a runnable distribution.
    if !dist.iter().any(|f| f.rel.starts_with("jars/spark-")) {
        return Err(BuildError::Distribution {
            path: home.to_path_buf(),
            reason: "no jars/spark-*.jar: not a runnable Spark distribution".into(),
        });
    }
    Ok(())
}

/// Build the images and write them to `opts.output`.
pub fn build(opts: &BuildOptions) -> Result<BuildReport, BuildError> {
    if opts.images.is_empty() {
        return Err(BuildError::InvalidInput("no images to build".into()));
    }
    // Fail before any work when the destination is not ours.
    output::check(&opts.output)?;

    let cache = opts.cache_dir.as_deref().map(LayerCache::new);
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

    let want = opts.platform.clone().unwrap_or_else(Platform::host);
    let base = base::open(&opts.base, &want, opts.compression, &store, cache.as_ref())?;
    let base_arch = base.config.architecture().to_string();
    if opts.platform.is_some() && base_arch != want.arch {
        return Err(BuildError::Base(format!(
            "the base image is {base_arch}, not {want}"
        )));
    }
    let base_config =
        serde_json::to_value(&base.config).map_err(|e| BuildError::Base(format!("config: {e}")))?;
    let base_layers: Vec<(&Path, &str)> = base
        .layers
        .iter()
        .map(|l| (l.path.as_path(), l.blob.digest.as_str()))
        .collect();
    let scan_cache = cache.as_ref().map(|c| c.store().join("base-scan"));
    let basefs = basefs::scan(&base_layers, scan_cache.as_deref())?;

    let env_java = base
        .config
        .config()
        .as_ref()
        .and_then(|c| c.env().as_ref())
        .and_then(|env| {
            env.iter()
                .find_map(|l| l.strip_prefix("JAVA_HOME=").map(String::from))
        });
    let java_home = env_java
        .or_else(|| basefs.java_home())
        .ok_or(BuildError::NoJava)?;
    let localtime = resolve_timezone(&opts.timezone, &basefs, &opts.host_zoneinfo)?;
    let passwd = plan::passwd_with_spark(basefs.read("etc/passwd"), opts.uid);

    if !opts.entrypoint.is_file() {
        return Err(BuildError::InvalidInput(format!(
            "entrypoint binary {} not found: run `cargo xtask dist` or pass --entrypoint-binary",
            opts.entrypoint.display()
        )));
    }
    let dist = walk_dist(&opts.spark_home)?;
    check_dist(&opts.spark_home, &dist)?;
    let sys = SystemFiles {
        entrypoint: file_content(&opts.entrypoint)?,
        passwd: Arc::from(passwd),
        localtime: Arc::from(localtime),
        timezone: opts.timezone.clone(),
        uid: opts.uid,
    };
    let layers = plan::plan_layers(&dist, &sys);
    let variants: BTreeSet<Variant> = opts.images.iter().map(|(v, _)| *v).collect();
    // Only the layers some requested image uses.
    let layers: Vec<LayerPlan> = layers
        .into_iter()
        .filter(|l| l.only.is_none_or(|o| variants.contains(&o)))
        .collect();

    // Cache lookups, then build the misses in parallel.
    let keys: Vec<String> = layers
        .iter()
        .map(|l| cache::plan_key(l, opts.epoch, opts.compression))
        .collect();
    let hits: Vec<Option<LayerBlob>> = keys
        .iter()
        .map(|k| cache.as_ref().and_then(|c| c.get(k)))
        .collect();
    let todo: Vec<usize> = (0..layers.len()).filter(|&i| hits[i].is_none()).collect();
    let built = layer::run_parallel(&todo, |&i| {
        layer::build_layer(&layers[i], opts.epoch, opts.compression, &store)
    });
    let mut blobs: Vec<Option<LayerBlob>> = hits.clone();
    for (&i, r) in todo.iter().zip(built) {
        let b = r?;
        if let Some(c) = &cache {
            c.put(&keys[i], &b)?;
        }
        blobs[i] = Some(b);
    }
    let blobs: Vec<LayerBlob> = blobs.into_iter().flatten().collect();
    let layer_reports: Vec<LayerReport> = layers
        .iter()
        .zip(&blobs)
        .zip(&hits)
        .map(|((l, b), h)| LayerReport {
            name: l.name.to_string(),
            digest: b.digest.clone(),
            diff_id: b.diff_id.clone(),
            size: b.size,
            cached: h.is_some(),
        })
        .collect();

    let created = image::rfc3339(opts.epoch);
    let mut out_blobs: BTreeMap<String, BlobSource> = BTreeMap::new();
    for l in &base.layers {
        out_blobs.insert(l.blob.digest.clone(), BlobSource::Path(l.path.clone()));
    }
    for b in &blobs {
        out_blobs.insert(
            b.digest.clone(),
            BlobSource::Path(layer::blob_path(&store, &b.digest)),
        );
    }
    let mut entries = Vec::new();
    let mut reports = Vec::new();
    let mut docker_manifest = Vec::new();
    let single = opts.images.len() == 1;
    for (variant, reference) in &opts.images {
        let idx = plan::layers_for(&layers, *variant);
        let mut labels = BTreeMap::from([
            (
                "org.opencontainers.image.version".to_string(),
                opts.spark_version.clone(),
            ),
            (
                "org.opencontainers.image.source".to_string(),
                opts.source.clone(),
            ),
            (
                "org.opencontainers.image.base.name".to_string(),
                base.name.clone(),
            ),
            (
                "org.opencontainers.image.created".to_string(),
                created.clone(),
            ),
            (
                "org.opencontainers.image.title".to_string(),
                variant.image_name().to_string(),
            ),
        ]);
        if let Some(d) = &base.digest {
            labels.insert("org.opencontainers.image.base.digest".into(), d.clone());
        }
        let inputs = image::ConfigInputs {
            created: opts.epoch,
            spark_version: &opts.spark_version,
            java_home: &java_home,
            timezone: &opts.timezone,
            uid: opts.uid,
            layers: idx
                .iter()
                .map(|&i| (&blobs[i], format!("sparkimg build: {}", layers[i].name)))
                .collect(),
            labels: labels.clone(),
        };
        let config = image::image_config(&base_config, &inputs);
        let all_layers: Vec<&LayerBlob> = base
            .layers
            .iter()
            .map(|l| &l.blob)
            .chain(idx.iter().map(|&i| &blobs[i]))
            .collect();
        let mut annotations = labels;
        annotations.insert(
            "dev.sparkimg.compression".into(),
            opts.compression.describe(),
        );
        let manifest = image::manifest(&config, &all_layers, &annotations);
        let size = manifest.size() + config.size() + all_layers.iter().map(|l| l.size).sum::<u64>();
        reports.push(ImageReport {
            reference: reference.to_string(),
            manifest_digest: manifest.digest.clone(),
            config_digest: config.digest.clone(),
            size,
            platform: format!("{}/{}", base.config.os(), base_arch),
        });
        docker_manifest.push(serde_json::json!({
            "Config": format!("blobs/sha256/{}", config.digest.trim_start_matches("sha256:")),
            "RepoTags": [reference.to_string()],
            "Layers": all_layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:")))
                .collect::<Vec<_>>(),
        }));
        out_blobs.insert(
            config.digest.clone(),
            BlobSource::Bytes(config.bytes.clone()),
        );
        out_blobs.insert(
            manifest.digest.clone(),
            BlobSource::Bytes(manifest.bytes.clone()),
        );
        entries.push(image::IndexEntry {
            manifest,
            // A tag alone is ambiguous when spark, spark-py and spark-r share it, so the
            // ref name is the tag only for a single image (`oci:DIR:TAG`), else the full
            // reference (`oci:DIR:quay.io/x/spark-py:TAG`).
            ref_name: if single {
                reference.tag.clone()
            } else {
                reference.to_string()
            },
            full_name: reference.to_string(),
            os: base.config.os().to_string(),
            arch: base_arch.clone(),
            variant: base.config.variant().clone(),
        });
    }
    let index = image::index(&entries);
    let docker_manifest = matches!(opts.output, OutputSpec::DockerArchive(_))
        .then(|| image::canonical(serde_json::Value::Array(docker_manifest)).bytes);
    let out = Output {
        spec: &opts.output,
        blobs: out_blobs
            .into_iter()
            .map(|(digest, source)| Blob { digest, source })
            .collect(),
        index,
        docker_manifest,
    };
    let written = output::write(&out)?;
    let built_count = layer_reports.iter().filter(|l| !l.cached).count();
    Ok(BuildReport {
        output: written.display().to_string(),
        images: reports,
        layers_built: built_count,
        layers_cached: layer_reports.len() - built_count,
        layers: layer_reports,
        java_home,
        base: base.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
