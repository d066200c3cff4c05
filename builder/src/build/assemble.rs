//! The assemble stage: per image and platform a config and a manifest over the base's
//! layers and the built ones, an index per multi-platform image, the top-level index
//! and a `docker load` manifest.json. Pure apart from reading what `prepared` holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::base::BaseImage;
use super::output::{Blob, BlobSource};
use super::{plan, Assembled, BuildOptions, ImageReport, Prepared};
use super::{Compression, ImageRef, LayerBlob, Variant};
use crate::build::config;
use crate::layer;
use crate::oci::json;

/// What an image records of how it was built, besides its base and layers: with them,
/// enough to make its config and manifest again (`rebase` reads it back from an image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub spark_version: String,
    pub origin: Origin,
    pub epoch: u64,
    pub timezone: String,
    pub uid: u64,
    pub compression: Compression,
    /// What `--packages` baked in, as resolved (coordinates), recorded in
    /// [`PACKAGES_LABEL`].
    pub packages: Vec<String>,
}

impl Recipe {
    pub fn of(opts: &BuildOptions) -> Recipe {
        Recipe {
            spark_version: opts.spark_version.clone(),
            origin: opts.origin.clone(),
            epoch: opts.epoch,
            timezone: opts.timezone.clone(),
            uid: opts.uid,
            compression: opts.compression,
            packages: opts.packages.iter().map(|j| j.coordinate.clone()).collect(),
        }
    }
}

/// Where an image says its distribution comes from: canonical names only, never the
/// mirror, URL or path it was read from, so that its bytes depend only on content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `org.opencontainers.image.source`: a release's Apache archive URL, upstream's
    /// repository for `--spark-home`; none for a `--dist` file or URL.
    pub source: Option<String>,
    /// The tarball's sha512 ([`SHA512_LABEL`]); none for `--spark-home`.
    pub sha512: Option<String>,
}

/// The label recording the distribution tarball's sha512.
pub const SHA512_LABEL: &str = "dev.sparkimg.spark.sha512";

/// The labels [`oci_labels`] sets only when it has a value for them: never inherited
/// from the base's config.
pub const OWN_LABELS: &[&str] = &[
    "org.opencontainers.image.source",
    "org.opencontainers.image.base.digest",
    SHA512_LABEL,
    PACKAGES_LABEL,
];

/// `created_by` of our layers in the config's history: this prefix and the layer name.
pub const HISTORY_PREFIX: &str = "sparkimg build: ";
/// The history `comment` that marks our layers.
pub use crate::oci::json::HISTORY_COMMENT;
/// The manifest annotation recording the layer compressor.
pub const COMPRESSION_ANNOTATION: &str = "dev.sparkimg.compression";
/// The label (hence also an annotation) listing the `--packages` jars' coordinates.
pub const PACKAGES_LABEL: &str = "dev.sparkimg.packages";

/// Pure: the [`PACKAGES_LABEL`] of an image with these `--packages` coordinates, none
/// without packages. Both build paths (and so `rebase`) label images with it.
pub fn packages_label(coordinates: &[String]) -> Option<(String, String)> {
    (!coordinates.is_empty()).then(|| (PACKAGES_LABEL.to_string(), coordinates.join(",")))
}

/// One platform image's inputs: the base (with its config as JSON and its Java) and our
/// layers on top of it, each with its name.
pub struct PlatformParts<'a> {
    pub base: &'a BaseImage,
    pub base_config: &'a serde_json::Value,
    pub java_home: &'a str,
    pub layers: Vec<(&'a LayerBlob, &'a str)>,
}

/// One image to assemble: its variant, its name and one set of parts per platform.
pub struct ImageParts<'a> {
    pub variant: Variant,
    pub reference: &'a ImageRef,
    pub platforms: Vec<PlatformParts<'a>>,
}

/// Everything the images refer to, as blobs; the index; one report per image.
pub(super) fn assemble(
    opts: &BuildOptions,
    prepared: &[Prepared],
    by_key: &BTreeMap<String, LayerBlob>,
    store: &Path,
) -> (Assembled, Vec<ImageReport>) {
    let mut blobs = BTreeMap::new();
    for b in by_key.values() {
        blobs.insert(
            b.digest.clone(),
            BlobSource::Path(layer::blob_path(store, &b.digest)),
        );
    }
    let images: Vec<ImageParts> = opts
        .images
        .iter()
        .map(|(variant, reference)| ImageParts {
            variant: *variant,
            reference,
            platforms: prepared
                .iter()
                .map(|p| PlatformParts {
                    base: &p.base,
                    base_config: &p.base_config,
                    java_home: &p.java_home,
                    layers: plan::layers_for(&p.layers, *variant)
                        .into_iter()
                        .map(|i| (&by_key[&p.keys[i]], p.layers[i].name))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    assemble_parts(&Recipe::of(opts), &images, blobs)
}

/// The assemble stage proper, for `build` and `rebase` alike: configs, manifests and
/// indexes from a recipe and the parts; `blobs` holds our layers' blobs, the bases' are
/// added here (as their files, unless `blobs` says where they are: `rebase`'s new base
/// left in a registry).
pub fn assemble_parts(
    recipe: &Recipe,
    images: &[ImageParts],
    blobs: BTreeMap<String, BlobSource>,
) -> (Assembled, Vec<ImageReport>) {
    let mut out = Collected {
        blobs,
        ..Collected::default()
    };
    for p in images.iter().flat_map(|i| &i.platforms) {
        for l in &p.base.layers {
            out.blobs
                .entry(l.blob.digest.clone())
                .or_insert_with(|| BlobSource::Path(l.path.clone()));
        }
    }
    let single = images.len() == 1;
    let mut entries = Vec::new();
    let mut reports = Vec::new();
    for image in images {
        let (entry, report) = image_entry(recipe, image, single, &mut out);
        entries.push(entry);
        reports.push(report);
    }
    let index = json::index(&entries);
    let assembled = Assembled {
        blobs: out
            .blobs
            .into_iter()
            .map(|(digest, source)| Blob { digest, source })
            .collect(),
        index,
        docker_manifest: json::canonical(serde_json::Value::Array(out.docker_manifest)).bytes,
        sboms: Vec::new(),
        dependencies: Default::default(),
    };
    (assembled, reports)
}

/// Blobs by digest and docker manifest.json entries, gathered over all images.
#[derive(Default)]
struct Collected {
    blobs: BTreeMap<String, BlobSource>,
    docker_manifest: Vec<serde_json::Value>,
}

/// One image: a manifest per platform, under an index when there are several.
fn image_entry(
    recipe: &Recipe,
    image: &ImageParts,
    single: bool,
    out: &mut Collected,
) -> (json::IndexEntry, ImageReport) {
    let reference = image.reference;
    let mut platform_reports = Vec::new();
    let mut platform_manifests = Vec::new();
    for p in &image.platforms {
        let (m, r) = platform_image(recipe, p, image.variant, reference, out);
        platform_manifests.push(m);
        platform_reports.push(r);
    }
    // A tag alone is ambiguous when spark, spark-py and spark-r share it, so the ref
    // name is the tag only for a single image (`oci:DIR:TAG`), else the full
    // reference (`oci:DIR:quay.io/x/spark-py:TAG`).
    let ref_name = if single {
        reference.tag.clone()
    } else {
        reference.to_string()
    };
    if platform_manifests.len() == 1 {
        let only = platform_manifests.remove(0);
        let entry = json::IndexEntry {
            target: json::Target::Manifest(only),
            ref_name,
            full_name: reference.to_string(),
        };
        return (entry, platform_reports.remove(0));
    }
    let index = json::platform_index(&platform_manifests);
    let size = index.size() + distinct_blob_sizes(&platform_manifests);
    out.blobs
        .insert(index.digest.clone(), BlobSource::Bytes(index.bytes.clone()));
    let report = ImageReport {
        reference: reference.to_string(),
        manifest_digest: index.digest.clone(),
        config_digest: platform_reports[0].config_digest.clone(),
        size,
        platform: platform_reports
            .iter()
            .map(|r| r.platform.clone())
            .collect::<Vec<_>>()
            .join(","),
        platforms: platform_reports,
        image_id: None,
        repo_digests: Vec::new(),
    };
    let entry = json::IndexEntry {
        target: json::Target::Index(index),
        ref_name,
        full_name: reference.to_string(),
    };
    (entry, report)
}

/// The OCI labels of one platform image.
fn labels(recipe: &Recipe, base: &BaseImage, variant: Variant) -> BTreeMap<String, String> {
    let spark = SparkLabels {
        spark_version: &recipe.spark_version,
        origin: &recipe.origin,
        epoch: recipe.epoch,
        packages: &recipe.packages,
    };
    oci_labels(&spark, &base.name, base.digest.as_deref(), variant)
}

/// What an image's labels say about its Spark and its build.
pub struct SparkLabels<'a> {
    pub spark_version: &'a str,
    pub origin: &'a Origin,
    pub epoch: u64,
    /// `--packages` coordinates, as resolved.
    pub packages: &'a [String],
}

/// The labels of an image of `variant` on the base named `base_name`: the daemonless
/// path's and the Docker Engine path's (`engine::build`).
pub fn oci_labels(
    recipe: &SparkLabels,
    base_name: &str,
    base_digest: Option<&str>,
    variant: Variant,
) -> BTreeMap<String, String> {
    let created = json::rfc3339(recipe.epoch);
    let mut labels = BTreeMap::from([
        (
            "org.opencontainers.image.version".to_string(),
            recipe.spark_version.to_string(),
        ),
        (
            "org.opencontainers.image.base.name".to_string(),
            base_name.to_string(),
        ),
        ("org.opencontainers.image.created".to_string(), created),
        (
            "org.opencontainers.image.title".to_string(),
            variant.image_name().to_string(),
        ),
    ]);
    if let Some(d) = base_digest {
        labels.insert("org.opencontainers.image.base.digest".into(), d.to_string());
    }
    if let Some(s) = &recipe.origin.source {
        labels.insert("org.opencontainers.image.source".into(), s.clone());
    }
    if let Some(h) = &recipe.origin.sha512 {
        labels.insert(SHA512_LABEL.into(), h.clone());
    }
    labels.extend(packages_label(recipe.packages));
    labels
}

/// One platform's config and manifest for `variant`.
fn platform_image(
    recipe: &Recipe,
    p: &PlatformParts,
    variant: Variant,
    reference: &ImageRef,
    out: &mut Collected,
) -> (json::PlatformManifest, ImageReport) {
    let labels = labels(recipe, p.base, variant);
    let inputs = config::ConfigInputs {
        created: recipe.epoch,
        spark_version: &recipe.spark_version,
        java_home: p.java_home,
        timezone: &recipe.timezone,
        uid: recipe.uid,
        layers: p
            .layers
            .iter()
            .map(|(b, name)| (*b, format!("{HISTORY_PREFIX}{name}")))
            .collect(),
        labels: labels.clone(),
    };
    let config = config::image_config(p.base_config, &inputs);
    let all_layers: Vec<&LayerBlob> = p
        .base
        .layers
        .iter()
        .map(|l| &l.blob)
        .chain(p.layers.iter().map(|(b, _)| *b))
        .collect();
    let mut annotations = labels;
    annotations.insert(COMPRESSION_ANNOTATION.into(), recipe.compression.describe());
    let manifest = json::manifest(&config, &all_layers, &annotations);
    let size = manifest.size() + config.size() + all_layers.iter().map(|l| l.size).sum::<u64>();
    let report = ImageReport {
        reference: reference.to_string(),
        manifest_digest: manifest.digest.clone(),
        config_digest: config.digest.clone(),
        size,
        platform: p.base.platform_name(),
        platforms: Vec::new(),
        image_id: None,
        repo_digests: Vec::new(),
    };
    out.docker_manifest.push(serde_json::json!({
        "Config": format!("blobs/sha256/{}", config.digest.trim_start_matches("sha256:")),
        "RepoTags": [reference.to_string()],
        "Layers": all_layers
            .iter()
            .map(|l| format!("blobs/sha256/{}", l.digest.trim_start_matches("sha256:")))
            .collect::<Vec<_>>(),
    }));
    out.blobs.insert(
        config.digest.clone(),
        BlobSource::Bytes(config.bytes.clone()),
    );
    out.blobs.insert(
        manifest.digest.clone(),
        BlobSource::Bytes(manifest.bytes.clone()),
    );
    let pm = json::PlatformManifest {
        manifest,
        os: p.base.config.os().to_string(),
        arch: p.base.config.architecture().to_string(),
        variant: p.base.config.variant().clone(),
    };
    (pm, report)
}

/// Config and layer sizes of several platform manifests, each blob counted once, plus
/// the manifests themselves.
fn distinct_blob_sizes(manifests: &[json::PlatformManifest]) -> u64 {
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for m in manifests {
        total += m.manifest.size();
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.manifest.bytes) else {
            continue;
        };
        let layers = v["layers"].as_array().into_iter().flatten();
        for d in std::iter::once(&v["config"]).chain(layers) {
            if seen.insert(d["digest"].as_str().unwrap_or_default().to_string()) {
                total += d["size"].as_u64().unwrap_or(0);
            }
        }
    }
    total
}
