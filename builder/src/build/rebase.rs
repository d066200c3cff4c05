//! `sparkimg rebase`: an image sparkimg built, moved onto a new base. The result is the
//! image `build` gives on that base: the recipe (version, source, epoch, time zone, uid,
//! compression) is read back from the image, the Spark layers are kept as they are, the
//! system layer is planned again from the new base ([`super::system_files`],
//! [`plan::system_layer`]) and config and manifest come from the same assemble code
//! ([`assemble::assemble_parts`]). SBOM referrers are made again from the old ones
//! ([`sboms::rebased_documents`]): the same packages of our layers, the new base's.
//! Pure: [`read_recipe`], [`check_prefix`], [`java_major`]. Effects: [`rebase_with`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::assemble::{self, ImageParts, Origin, PlatformParts, Recipe};
use super::assemble::{COMPRESSION_ANNOTATION, HISTORY_COMMENT, HISTORY_PREFIX};
use super::assemble::{PACKAGES_LABEL, SHA512_LABEL};
use super::base::{self, BaseImage};
use super::output::BlobSource;
use super::plan::{self, Content, Variant};
use super::{sboms, Assembled, BaseSpec, BuildError, ImageRef, ImageReport};
use super::{Compression, Platform};
use crate::layer::cache::LayerCache;
use crate::layer::{self, basefs};
use crate::oci::{json, Location};
use crate::usage::UsageError;

/// What to rebase onto what.
#[derive(Debug, Clone)]
pub struct RebaseOptions {
    /// The image: `oci:`, `oci-archive:`, or a registry image pulled without its Spark
    /// layers (`registry::pull_some`; per platform: `platform_images`).
    pub image: BaseSpec,
    pub platform_images: BTreeMap<String, BaseSpec>,
    /// The new base (per platform: `platform_bases`, keyed `os/arch[/variant]`).
    pub base: BaseSpec,
    pub platform_bases: BTreeMap<String, BaseSpec>,
    /// `--old-base`: checked strictly. Without it the base the image records is used
    /// when it still is what the image records (same digest).
    pub old_base: Option<BaseSpec>,
    /// Per platform (`os/arch[/variant]`), the old base by the digest the image records
    /// (a registry base pulled by digest): checked as strictly as `old_base`.
    pub platform_old_bases: BTreeMap<String, BaseSpec>,
    /// Only these platforms of a multi-platform image; empty: all of them.
    pub platforms: Vec<Platform>,
    /// The image's name in the result; `None`: the name it has.
    pub to: Option<ImageRef>,
    pub allow_java_change: bool,
    /// `--allow-unsupported-java`: a new base whose Java the Spark line does not run on.
    pub allow_unsupported_java: bool,
    /// Fallback zoneinfo when the new base has none (as for `build`).
    pub host_zoneinfo: PathBuf,
    /// Cache root (the base scans under `<root>/build`); `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// The image's SBOM referrers: regenerated for the new base in the same formats.
    pub old_sboms: OldSboms,
}

/// Per platform (`os/arch[/variant]`), an image's SBOM documents as
/// `(artifactType, document)`.
pub type OldSboms = BTreeMap<String, Vec<(String, Vec<u8>)>>;

/// What happened to one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformRebase {
    pub platform: String,
    pub old_base: String,
    pub old_base_digest: Option<String>,
    pub base: String,
    pub base_digest: Option<String>,
    pub old_java_home: String,
    pub java_home: String,
    /// The Spark layers kept (digests), then the rebuilt system layer.
    pub kept_layers: Vec<String>,
    pub system_layer: String,
    /// Whether the old base could be checked layer by layer.
    pub old_base_checked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RebaseReport {
    pub output: String,
    pub image: ImageReport,
    pub platforms: Vec<PlatformRebase>,
    pub warnings: Vec<String>,
}

/// The recipe, variant and our layers' names, read back from an image's config (as
/// JSON) and manifest annotations.
pub fn read_recipe(
    config: &Value,
    annotations: &BTreeMap<String, String>,
) -> Result<(Recipe, Variant, Vec<String>), BuildError> {
    let not_ours = |what: &str| {
        BuildError::Refused(format!(
            "the image has no {what}: it was not built by sparkimg (or lost its \
             annotations on the way, as docker-archive does); rebuild it instead"
        ))
    };
    let c = &config["config"];
    let label = |k: &str| c["Labels"][k].as_str().map(String::from);
    let env = |k: &str| {
        c["Env"].as_array().and_then(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('=').map(String::from))
        })
    };
    let spark_version = label("org.opencontainers.image.version")
        .ok_or_else(|| not_ours("org.opencontainers.image.version label"))?;
    // A `--dist` image names no source (its sha512 only).
    let origin = Origin {
        source: label("org.opencontainers.image.source"),
        sha512: label(SHA512_LABEL),
    };
    let epoch = label("org.opencontainers.image.created")
        .as_deref()
        .and_then(json::parse_rfc3339)
        .ok_or_else(|| not_ours("org.opencontainers.image.created label in sparkimg's form"))?;
    let variant = label("org.opencontainers.image.title")
        .as_deref()
        .and_then(Variant::from_image_name)
        .ok_or_else(|| not_ours("org.opencontainers.image.title label naming a variant"))?;
    let compression = annotations
        .get(COMPRESSION_ANNOTATION)
        .and_then(|d| Compression::from_describe(d))
        .ok_or_else(|| not_ours(&format!("{COMPRESSION_ANNOTATION} annotation")))?;
    let timezone = env("TZ").ok_or_else(|| not_ours("TZ variable"))?;
    let uid = c["User"]
        .as_str()
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| not_ours("numeric User"))?;
    let names = our_layers(config).ok_or_else(|| not_ours("sparkimg layers in its history"))?;
    if names.iter().any(|n| n == crate::apt::layer::NAME) {
        return Err(BuildError::Refused(format!(
            "the image has an {} layer, made from the old base's package lists: \
             rebuild it on the new base instead of rebasing",
            crate::apt::layer::NAME
        )));
    }
    let recipe = Recipe {
        spark_version,
        origin,
        epoch,
        timezone,
        uid,
        compression,
        packages: label(PACKAGES_LABEL)
            .map(|l| l.split(',').map(String::from).collect())
            .unwrap_or_default(),
    };
    Ok((recipe, variant, names))
}

/// The names of our layers: the history's last non-empty entries marked as ours, in
/// order; the last one must be the system layer.
fn our_layers(config: &Value) -> Option<Vec<String>> {
    let history = config["history"].as_array()?;
    let mut names: Vec<String> = history
        .iter()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .rev()
        .map_while(|h| {
            (h["comment"].as_str() == Some(HISTORY_COMMENT))
                .then(|| h["created_by"].as_str()?.strip_prefix(HISTORY_PREFIX))
                .flatten()
                .map(String::from)
        })
        .collect();
    names.reverse();
    (names.last().map(String::as_str) == Some("system")).then_some(names)
}

/// Pure: whether `old` (the old base's diff_ids) is exactly the image's first
/// `below` layers; the refusal names the first layer that differs.
pub fn check_prefix(image: &[String], below: usize, old: &[String]) -> Result<(), String> {
    for (i, o) in old.iter().enumerate() {
        match image.get(i) {
            Some(d) if d == o => {}
            Some(d) => {
                return Err(format!(
                    "layer {} of the image is {d}, the old base's is {o}",
                    i + 1
                ))
            }
            None => return Err(format!("the image has no layer {} ({o})", i + 1)),
        }
    }
    if old.len() != below {
        return Err(format!(
            "the old base has {} layers, the image {below} below its Spark layers; \
             layer {} of the image is {}",
            old.len(),
            old.len().min(below) + 1,
            image
                .get(old.len().min(below))
                .map_or("missing", String::as_str)
        ));
    }
    Ok(())
}

/// Pure: the Java major version of a Java home, from its path (`java-17-openjdk-amd64`,
/// `jdk-21`, `temurin-11-jre`) or else the base's `JAVA_VERSION` (eclipse-temurin sets
/// `jdk-17.0.9+9`; `1.8.0_392` is 8).
pub fn java_major(java_home: &str, java_version: Option<&str>) -> Option<u32> {
    super::java::home_major(java_home).or_else(|| super::java::version_major(java_version?))
}

fn env_of(config: &Value, key: &str) -> Option<String> {
    config["config"]["Env"].as_array().and_then(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('=').map(String::from))
    })
}

/// The entrypoint binary of an image, from its system layer.
fn entrypoint_of(system_layer: &Path) -> Result<Vec<u8>, BuildError> {
    let mut ar = tar::Archive::new(layer::decompressing_reader(system_layer)?);
    for e in ar.entries().map_err(BuildError::io(system_layer))? {
        let mut e = e.map_err(BuildError::io(system_layer))?;
        if basefs::normalize(&String::from_utf8_lossy(&e.path_bytes())) == "opt/spark-entrypoint" {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes)
                .map_err(BuildError::io(system_layer))?;
            return Ok(bytes);
        }
    }
    Err(BuildError::Refused(
        "the image's system layer has no /opt/spark-entrypoint: not a sparkimg image".into(),
    ))
}

fn to_value(base: &BaseImage) -> Result<Value, BuildError> {
    serde_json::to_value(&base.config).map_err(|e| BuildError::Base(format!("config: {e}")))
}

/// One platform, opened and checked, with its new system layer built into `store`.
struct Rebased {
    new_base: BaseImage,
    new_config: Value,
    java_home: String,
    /// The image itself (its Spark layers are kept from it).
    image: BaseImage,
    names: Vec<String>,
    system: layer::LayerBlob,
    recipe: Recipe,
    variant: Variant,
    /// The new base's OS packages and jars (for the SBOM).
    os_packages: super::OsPackages,
    /// `os/arch[/variant]` as asked for (the key of `old_sboms`).
    key: String,
    report: PlatformRebase,
}

/// Open the image for `want`, check it against its old base, open the new base and
/// build the new system layer.
fn rebase_platform(
    opts: &RebaseOptions,
    want: &Platform,
    store: &Path,
    scan_cache: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<Rebased, BuildError> {
    let image_spec = opts
        .platform_images
        .get(&want.to_string())
        .unwrap_or(&opts.image);
    let image = base::open(image_spec, want, Compression::None, store, None)?;
    let config = to_value(&image)?;
    let (recipe, variant, names) = read_recipe(&config, &image.annotations)?;
    let ids: Vec<String> = image
        .layers
        .iter()
        .map(|l| l.blob.diff_id.clone())
        .collect();
    let below = ids.len().checked_sub(names.len()).ok_or_else(|| {
        BuildError::Refused("the image's history names more layers than it has".into())
    })?;
    let label = |k: &str| config["config"]["Labels"][k].as_str().map(String::from);
    let old_name = label("org.opencontainers.image.base.name").unwrap_or_default();
    let old_digest = label("org.opencontainers.image.base.digest");
    let checked = check_old_base(opts, want, (&old_name, old_digest.as_deref()), &ids, below)?;
    if !checked {
        warnings.push(format!(
            "{}: the old base {old_name} is no longer what the image records ({}); its \
             {below} base layers are taken from the image's history unchecked (pass \
             --old-base to check them)",
            image.platform_name(),
            old_digest.as_deref().unwrap_or("no digest"),
        ));
    }
    let base_spec = opts
        .platform_bases
        .get(&want.to_string())
        .unwrap_or(&opts.base);
    let new_base = base::open(base_spec, want, recipe.compression, store, None)?;
    if new_base.platform_name() != image.platform_name() {
        return Err(BuildError::Base(format!(
            "the new base is {}, the image {}",
            new_base.platform_name(),
            image.platform_name()
        )));
    }
    let new_config = to_value(&new_base)?;
    let base_layers: Vec<(&Path, &str)> = new_base
        .layers
        .iter()
        .map(|l| (l.path.as_path(), l.blob.digest.as_str()))
        .collect();
    let fs = basefs::scan(&base_layers, scan_cache)?;
    let java_home = super::java_home(&new_base, &fs)?;
    let old_java = env_of(&config, "JAVA_HOME").unwrap_or_default();
    check_java(opts, (&old_java, &config), (&java_home, &new_config))?;
    check_line_java(
        opts,
        &recipe.spark_version,
        (&new_base, &fs, &java_home),
        warnings,
    )?;
    let system_path = &image.layers[ids.len() - 1].path;
    let entrypoint = Content::Bytes(Arc::from(entrypoint_of(system_path)?));
    let sys = super::system_files(
        &fs,
        (&recipe.timezone, recipe.uid),
        &opts.host_zoneinfo,
        entrypoint,
    )?;
    let system = layer::build_layer(
        &plan::system_layer(&sys),
        recipe.epoch,
        recipe.compression,
        store,
        None,
    )?;
    let report = PlatformRebase {
        platform: image.platform_name(),
        old_base: old_name,
        old_base_digest: old_digest,
        base: new_base.name.clone(),
        base_digest: new_base.digest.clone(),
        old_java_home: old_java,
        java_home: java_home.clone(),
        kept_layers: image.layers[below..ids.len() - 1]
            .iter()
            .map(|l| l.blob.digest.clone())
            .collect(),
        system_layer: system.digest.clone(),
        old_base_checked: checked,
    };
    Ok(Rebased {
        new_base,
        new_config,
        java_home,
        image,
        names,
        system,
        recipe,
        variant,
        os_packages: super::image_os_packages(&fs, None),
        key: want.to_string(),
        report,
    })
}

/// The old base against the image's first layers: `--old-base` strictly; else the
/// recorded base when it is still what the image records. `false`: not checked.
fn check_old_base(
    opts: &RebaseOptions,
    want: &Platform,
    (name, digest): (&str, Option<&str>),
    ids: &[String],
    below: usize,
) -> Result<bool, BuildError> {
    let explicit = opts
        .old_base
        .as_ref()
        .or_else(|| opts.platform_old_bases.get(&want.to_string()));
    let spec = match explicit {
        Some(s) => s.clone(),
        // A base read from disk is recorded by its digest, not its path: the caller
        // names it with `--old-base` to have it checked.
        None if crate::oci::reference::is_content_name(name) => return Ok(false),
        // Older images recorded an `oci:` path, still checked when it is there.
        None => match BaseSpec::parse(name) {
            Ok(s @ BaseSpec::Local(Location::OciDir { .. } | Location::OciArchive { .. })) => s,
            // A registry base is checked when the caller pulled it as `--old-base`.
            _ => return Ok(false),
        },
    };
    let scratch = tempfile::tempdir().map_err(BuildError::io(std::env::temp_dir()))?;
    let old = match base::open(&spec, want, Compression::None, scratch.path(), None) {
        Ok(o) => o,
        Err(e) if explicit.is_some() => return Err(e),
        Err(_) => return Ok(false),
    };
    if explicit.is_none() && old.digest.as_deref() != digest {
        return Ok(false);
    }
    let old_ids: Vec<String> = old.layers.iter().map(|l| l.blob.diff_id.clone()).collect();
    check_prefix(ids, below, &old_ids).map_err(|why| {
        BuildError::Refused(format!(
            "the image was not built on the old base {}: {why}",
            old.name
        ))
    })?;
    Ok(true)
}

/// A Java major version change is refused without `--allow-java-change`.
fn check_java(
    opts: &RebaseOptions,
    (old_home, old_config): (&str, &Value),
    (new_home, new_config): (&str, &Value),
) -> Result<(), BuildError> {
    let old = java_major(old_home, env_of(old_config, "JAVA_VERSION").as_deref());
    let new = java_major(new_home, env_of(new_config, "JAVA_VERSION").as_deref());
    match (old, new) {
        (Some(o), Some(n)) if o != n && !opts.allow_java_change => {
            Err(BuildError::Refused(format!(
                "the new base has Java {n} ({new_home}), the image Java {o} ({old_home}): \
                 Spark and the application jars may not run on it; pass \
                 --allow-java-change to rebase anyway"
            )))
        }
        _ => Ok(()),
    }
}

/// The new base's Java against the image's Spark line, as `build` checks it
/// ([`super::java`]); a warning goes with the report's.
fn check_line_java(
    opts: &RebaseOptions,
    spark_version: &str,
    (new_base, fs, java_home): (&BaseImage, &basefs::BaseFs, &str),
    warnings: &mut Vec<String>,
) -> Result<(), BuildError> {
    use super::java;
    let found = java::of_image(new_base, java_home, fs);
    let allow = opts.allow_unsupported_java;
    match java::verdict(spark_version, found.as_ref(), &new_base.name, allow) {
        java::Verdict::Fine => Ok(()),
        java::Verdict::Warn(w) => {
            warnings.push(w);
            Ok(())
        }
        java::Verdict::Refuse(e) => Err(e),
    }
}

/// Rebase every platform of the image, assemble the result and hand it to `publish`
/// (while the new system layers exist).
pub fn rebase_with<T, E: From<BuildError>>(
    opts: &RebaseOptions,
    publish: impl FnOnce(&Assembled) -> Result<T, E>,
) -> Result<(RebaseReport, T), E> {
    let (name, platforms) = match &opts.image {
        BaseSpec::Local(Location::OciDir { dir, reference }) => {
            base::layout_image(dir, reference.as_deref())?
        }
        BaseSpec::Pulled { dir, name } => (Some(name.clone()), base::layout_image(dir, None)?.1),
        _ => (None, Vec::new()),
    };
    let reference = match (&opts.to, name) {
        (Some(r), _) => r.clone(),
        (None, Some(n)) => crate::oci::reference::parse_ref(&n).map_err(BuildError::from)?,
        (None, None) => {
            return Err(BuildError::Usage(
                UsageError::new("the image has no name to keep").with_hint("pass --to REF"),
            )
            .into())
        }
    };
    let mut warnings = Vec::new();
    let store = tempfile::Builder::new()
        .prefix("sparkimg-rebase-")
        .tempdir()
        .map_err(BuildError::io(std::env::temp_dir()))?;
    let cache = opts.cache_dir.as_deref().map(LayerCache::new);
    let scan_cache = cache.as_ref().map(LayerCache::base_scans);
    let targets = select_platforms(&opts.platforms, platforms)?;
    let mut done = Vec::new();
    for want in &targets {
        let r = rebase_platform(
            opts,
            want,
            store.path(),
            scan_cache.as_deref(),
            &mut warnings,
        )?;
        if let Some(first) = done.first() {
            let first: &Rebased = first;
            if (&first.recipe, first.variant) != (&r.recipe, r.variant) {
                return Err(BuildError::Refused(
                    "the image's platforms were built with different settings".into(),
                )
                .into());
            }
        }
        done.push(r);
    }
    let remote = match &opts.image {
        BaseSpec::Pulled { name, .. } => Some(repository_of(name)),
        _ => None,
    };
    let (mut assembled, image) = assemble_rebased(&done, &reference, store.path(), remote);
    assembled.dependencies = dependencies(&done);
    attach_sboms(opts, &done, &image, &mut assembled, &mut warnings);
    let delivered = publish(&assembled)?;
    let report = RebaseReport {
        output: String::new(),
        image,
        platforms: done.into_iter().map(|r| r.report).collect(),
        warnings,
    };
    Ok((report, delivered))
}

/// What each platform's rebased image was made from (its provenance): the image it
/// kept the Spark layers of, and the new base.
fn dependencies(done: &[Rebased]) -> super::provenance::Dependencies {
    use crate::sign::provenance::Dependency;
    let dep = |b: &BaseImage| {
        let d = b
            .digest
            .as_deref()
            .and_then(|d| crate::oci::Digest::parse(d).ok())?;
        Some(Dependency::oci(&b.name, &d))
    };
    let per_platform = done
        .iter()
        .map(|r| {
            let deps = [dep(&r.image), dep(&r.new_base)]
                .into_iter()
                .flatten()
                .collect();
            (r.report.platform.clone(), deps)
        })
        .collect();
    super::provenance::Dependencies {
        common: Vec::new(),
        per_platform,
    }
}

/// The SBOMs a fresh build would attach, made from the old ones (see
/// [`sboms::rebased_documents`]); a platform whose old documents sparkimg cannot read
/// gets none, with a warning.
fn attach_sboms(
    opts: &RebaseOptions,
    done: &[Rebased],
    image: &ImageReport,
    assembled: &mut Assembled,
    warnings: &mut Vec<String>,
) {
    let platforms: Vec<&ImageReport> = match image.platforms.is_empty() {
        true => vec![image],
        false => image.platforms.iter().collect(),
    };
    let mut docs = Vec::new();
    for (r, pr) in done.iter().zip(platforms) {
        let Some(old) = opts.old_sboms.get(&r.key).filter(|o| !o.is_empty()) else {
            continue;
        };
        let id = (
            image.reference.as_str(),
            pr.manifest_digest.as_str(),
            pr.platform.clone(),
        );
        let new = sboms::rebased_documents(old, &r.new_base, &r.os_packages, id, r.recipe.epoch);
        match new {
            Some(d) => docs.extend(d),
            None => warnings.push(format!(
                "{}: the image's SBOM is not one sparkimg wrote, so it is not carried \
                 over: rebuild with --sbom to attach one",
                r.report.platform
            )),
        }
    }
    if !docs.is_empty() {
        let created = json::rfc3339(done[0].recipe.epoch);
        sboms::attach(assembled, &docs, &created);
        assembled.sboms = docs;
    }
}

/// `registry/repo` of a registry reference (tag and digest dropped).
fn repository_of(name: &str) -> String {
    crate::oci::reference::repository_of(name).to_string()
}

/// The platforms to rebase: those asked for (each must be the image's), else all.
fn select_platforms(asked: &[Platform], image: Vec<Platform>) -> Result<Vec<Platform>, BuildError> {
    if let Some(p) = asked
        .iter()
        .find(|p| !image.is_empty() && !image.contains(p))
    {
        let have: Vec<String> = image.iter().map(Platform::to_string).collect();
        return Err(BuildError::usage(format!(
            "the image has no {p} platform (it has {})",
            have.join(", ")
        )));
    }
    Ok(match (asked.is_empty(), image.is_empty()) {
        (false, _) => asked.to_vec(),
        (true, false) => image,
        (true, true) => vec![Platform::host()],
    })
}

/// The rebased platforms through `build`'s assemble code.
fn assemble_rebased(
    done: &[Rebased],
    reference: &ImageRef,
    store: &Path,
    remote: Option<String>,
) -> (Assembled, ImageReport) {
    let mut blobs = BTreeMap::new();
    let parts: Vec<PlatformParts> = done
        .iter()
        .map(|r| {
            // A registry base copied into the target beside its scan (its layers are
            // not here): pushed by HEAD, else copied again from its repository.
            for l in r.new_base.layers.iter().filter(|l| !l.path.exists()) {
                let source = BlobSource::Remote {
                    repository: repository_of(&r.new_base.name),
                    size: l.blob.size,
                };
                blobs.insert(l.blob.digest.clone(), source);
            }
            let below = r.image.layers.len() - r.names.len();
            let kept = &r.image.layers[below..r.image.layers.len() - 1];
            for l in kept {
                let source = match &remote {
                    Some(repository) if !l.path.exists() => BlobSource::Remote {
                        repository: repository.clone(),
                        size: l.blob.size,
                    },
                    _ => BlobSource::Path(l.path.clone()),
                };
                blobs.insert(l.blob.digest.clone(), source);
            }
            blobs.insert(
                r.system.digest.clone(),
                BlobSource::Path(layer::blob_path(store, &r.system.digest)),
            );
            let layers = kept
                .iter()
                .map(|l| &l.blob)
                .chain(std::iter::once(&r.system))
                .zip(r.names.iter().map(String::as_str))
                .collect();
            PlatformParts {
                base: &r.new_base,
                base_config: &r.new_config,
                java_home: &r.java_home,
                layers,
            }
        })
        .collect();
    let images = [ImageParts {
        variant: done[0].variant,
        reference,
        platforms: parts,
    }];
    let (assembled, mut reports) = assemble::assemble_parts(&done[0].recipe, &images, blobs);
    (assembled, reports.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::ImagePlatforms;
    use crate::layer::GzipBackend;
    use serde_json::json;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn prefix_check_names_the_layer() {
        let image = ids(&["a", "b", "s1", "s2"]);
        assert_eq!(check_prefix(&image, 2, &ids(&["a", "b"])), Ok(()));
        let e = check_prefix(&image, 2, &ids(&["a", "x"])).unwrap_err();
        assert!(
            e.contains("layer 2 of the image is b, the old base's is x"),
            "{e}"
        );
        let e = check_prefix(&image, 2, &ids(&["a"])).unwrap_err();
        assert!(
            e.contains("the old base has 1 layers") && e.contains("layer 2"),
            "{e}"
        );
        let e = check_prefix(&image, 2, &ids(&["a", "b", "s1"])).unwrap_err();
        assert!(e.contains("the old base has 3 layers"), "{e}");
        let e = check_prefix(&ids(&["a"]), 0, &ids(&["a", "b"])).unwrap_err();
        assert!(e.contains("no layer 2"), "{e}");
    }

    #[test]
    fn platforms_of_a_single_platform_image_come_from_its_config() {
        let p = |s: &str| Platform::parse(s).unwrap();
        let arm = ImagePlatforms::Single(p("linux/arm64/v8"));
        // No --platform: the image's own, not this machine's.
        assert_eq!(
            arm.clone().select("r/x:t", &[]).unwrap(),
            vec![p("linux/arm64/v8")]
        );
        // --platform without a variant takes the image's variant.
        for asked in ["linux/arm64", "linux/arm64/v8"] {
            assert_eq!(
                arm.clone().select("r/x:t", &[p(asked)]).unwrap(),
                vec![p("linux/arm64/v8")]
            );
        }
        // A --platform the image is not: refused, naming both.
        for asked in ["linux/amd64", "linux/arm64/v7", "windows/arm64"] {
            let e = arm
                .clone()
                .select("r/x:t", &[p(asked)])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(asked) && e.contains("linux/arm64/v8") && e.contains("r/x:t"),
                "{e}"
            );
            assert!(matches!(
                arm.clone().select("r/x:t", &[p(asked)]),
                Err(crate::oci::OciError::PlatformNotServed { .. })
            ));
        }
        let e = arm.select("r/x:t", &[p("linux/arm64"), p("linux/amd64")]);
        assert!(e.is_err());
    }

    #[test]
    fn platforms_of_an_index() {
        let p = |s: &str| Platform::parse(s).unwrap();
        let both = ImagePlatforms::Index(vec![p("linux/amd64"), p("linux/arm64")]);
        assert_eq!(
            both.clone().select("x", &[]).unwrap(),
            vec![p("linux/amd64"), p("linux/arm64")]
        );
        assert_eq!(
            both.select("x", &[p("linux/arm64")]).unwrap(),
            vec![p("linux/arm64")]
        );
        assert_eq!(
            ImagePlatforms::Index(Vec::new()).select("x", &[]).unwrap(),
            vec![Platform::host()]
        );
    }

    #[test]
    fn repositories_of_references() {
        assert_eq!(
            repository_of("127.0.0.1:5000/x/spark:t"),
            "127.0.0.1:5000/x/spark"
        );
        assert_eq!(
            repository_of("127.0.0.1:5000/x/spark"),
            "127.0.0.1:5000/x/spark"
        );
        assert_eq!(
            repository_of("quay.io/x/spark@sha256:ab"),
            "quay.io/x/spark"
        );
        assert_eq!(
            repository_of("quay.io/x/spark:3@sha256:ab"),
            "quay.io/x/spark"
        );
    }

    #[test]
    fn java_majors() {
        assert_eq!(
            java_major("/usr/lib/jvm/java-17-openjdk-amd64", None),
            Some(17)
        );
        assert_eq!(java_major("/usr/lib/jvm/java-1.8.0-openjdk", None), Some(8));
        assert_eq!(
            java_major("/usr/lib/jvm/temurin-11-jre-arm64", None),
            Some(11)
        );
        assert_eq!(java_major("/opt/jdk-21.0.2", None), Some(21));
        assert_eq!(
            java_major("/opt/java/openjdk", Some("jdk-17.0.9+9")),
            Some(17)
        );
        assert_eq!(
            java_major("/opt/java/openjdk", Some("jdk8u392-b08")),
            Some(8)
        );
        assert_eq!(java_major("/opt/java/openjdk", Some("1.8.0_392")), Some(8));
        assert_eq!(java_major("/opt/java/openjdk", Some("21.0.1")), Some(21));
        assert_eq!(java_major("/opt/java/openjdk", None), None);
        assert_eq!(java_major("/usr/lib/jvm/default-java", Some("x")), None);
    }

    fn config() -> Value {
        json!({
            "config": {
                "Env": ["JAVA_HOME=/j", "TZ=Asia/Shanghai", "PATH=/bin"],
                "User": "185",
                "Labels": {
                    "org.opencontainers.image.version": "3.5.3",
                    "org.opencontainers.image.source": "https://github.com/apache/spark",
                    "org.opencontainers.image.created": "2023-11-14T22:13:20Z",
                    "org.opencontainers.image.title": "spark-py",
                },
            },
            "history": [
                {"created_by": "base"},
                {"created_by": "ENV x", "empty_layer": true},
                {"created_by": "sparkimg build: spark-jars", "comment": "sparkimg"},
                {"created_by": "sparkimg build: python", "comment": "sparkimg"},
                {"created_by": "sparkimg build: system", "comment": "sparkimg"},
            ],
        })
    }

    fn annotations() -> BTreeMap<String, String> {
        BTreeMap::from([(
            COMPRESSION_ANNOTATION.to_string(),
            "zstd/libzstd-1.5.5/mt/7".into(),
        )])
    }

    #[test]
    fn recipe_read_back() {
        let (r, v, names) = read_recipe(&config(), &annotations()).unwrap();
        assert_eq!(
            r,
            Recipe {
                spark_version: "3.5.3".into(),
                origin: Origin {
                    source: Some("https://github.com/apache/spark".into()),
                    sha512: None,
                },
                epoch: 1_700_000_000,
                timezone: "Asia/Shanghai".into(),
                uid: 185,
                compression: Compression::Zstd(7),
                packages: Vec::new(),
            }
        );
        assert_eq!(v, Variant::Python);
        assert_eq!(names, ids(&["spark-jars", "python", "system"]));
    }

    #[test]
    fn recipe_refusals_name_what_is_missing() {
        let refused = |c: Value, a: BTreeMap<String, String>, needle: &str| {
            let e = read_recipe(&c, &a).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        };
        refused(config(), BTreeMap::new(), COMPRESSION_ANNOTATION);
        let mut c = config();
        c["config"]["Labels"]["org.opencontainers.image.created"] = json!("yesterday");
        refused(c, annotations(), "created");
        let mut c = config();
        c["config"]["User"] = json!("spark");
        refused(c, annotations(), "User");
        let mut c = config();
        c["history"].as_array_mut().unwrap().pop();
        refused(c, annotations(), "sparkimg layers");
        let mut c = config();
        c["history"][2]["created_by"] = json!("sparkimg build: os-packages");
        refused(c, annotations(), "os-packages layer");
    }

    #[test]
    fn compression_descriptions_round_trip() {
        for c in [
            Compression::gzip(1),
            Compression::gzip(9),
            Compression::Gzip(GzipBackend::ZlibRs, 1),
            Compression::Gzip(GzipBackend::ZlibRs, 9),
            Compression::Zstd(3),
            Compression::Zstd(19),
            Compression::None,
        ] {
            assert_eq!(Compression::from_describe(&c.describe()), Some(c));
        }
        for bad in [
            "",
            "gzip/1",
            "zstd/3",
            "lz4/x/1",
            "none/1",
            "gzip/miniz_oxide/x",
            "gzip/miniz_oxide/6",
            // ISA-L's level 3 is never written (its bytes depend on the CPU).
            "gzip/isal-0.5.3+496255c/blocks-1024KiB/3",
            "gzip/flate2-zlib-rs/blocks-1024KiB/10",
            "zstd/libzstd-1.5.7/3",
        ] {
            assert_eq!(Compression::from_describe(bad), None, "{bad}");
        }
    }
}
