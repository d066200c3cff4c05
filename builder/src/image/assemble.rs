//! The assemble stage: per image and platform a config and a manifest over the base's
//! layers and the built ones, an index per multi-platform image, the top-level index
//! and a `docker load` manifest.json. Pure apart from reading what `prepared` holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::output::{Blob, BlobSource};
use super::{json, layer, plan, Assembled, BuildOptions, ImageReport, Prepared};
use super::{ImageRef, LayerBlob, Variant};

/// Everything the images refer to, as blobs; the index; one report per image.
pub(super) fn assemble(
    opts: &BuildOptions,
    prepared: &[Prepared],
    by_key: &BTreeMap<String, LayerBlob>,
    store: &Path,
) -> (Assembled, Vec<ImageReport>) {
    let mut out = Collected::default();
    for p in prepared {
        for l in &p.base.layers {
            out.blobs
                .insert(l.blob.digest.clone(), BlobSource::Path(l.path.clone()));
        }
    }
    for b in by_key.values() {
        out.blobs.insert(
            b.digest.clone(),
            BlobSource::Path(layer::blob_path(store, &b.digest)),
        );
    }
    let created = json::rfc3339(opts.epoch);
    let single = opts.images.len() == 1;
    let mut entries = Vec::new();
    let mut reports = Vec::new();
    for (variant, reference) in &opts.images {
        let (entry, report) = image_entry(
            opts, prepared, by_key, &created, *variant, reference, single, &mut out,
        );
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
#[allow(clippy::too_many_arguments)]
fn image_entry(
    opts: &BuildOptions,
    prepared: &[Prepared],
    by_key: &BTreeMap<String, LayerBlob>,
    created: &str,
    variant: Variant,
    reference: &ImageRef,
    single: bool,
    out: &mut Collected,
) -> (json::IndexEntry, ImageReport) {
    let mut platform_reports = Vec::new();
    let mut platform_manifests = Vec::new();
    for p in prepared {
        let (m, r) = platform_image(opts, p, by_key, created, variant, reference, out);
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
fn labels(
    opts: &BuildOptions,
    p: &Prepared,
    created: &str,
    variant: Variant,
) -> BTreeMap<String, String> {
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
            p.base.name.clone(),
        ),
        (
            "org.opencontainers.image.created".to_string(),
            created.to_string(),
        ),
        (
            "org.opencontainers.image.title".to_string(),
            variant.image_name().to_string(),
        ),
    ]);
    if let Some(d) = &p.base.digest {
        labels.insert("org.opencontainers.image.base.digest".into(), d.clone());
    }
    if !opts.packages.is_empty() {
        // What `--packages` baked in, as resolved (a label, hence also an annotation).
        let coordinates: Vec<&str> = opts
            .packages
            .iter()
            .map(|j| j.coordinate.as_str())
            .collect();
        labels.insert("dev.sparkimg.packages".into(), coordinates.join(","));
    }
    labels
}

/// One platform's config and manifest for `variant`.
fn platform_image(
    opts: &BuildOptions,
    p: &Prepared,
    by_key: &BTreeMap<String, LayerBlob>,
    created: &str,
    variant: Variant,
    reference: &ImageRef,
    out: &mut Collected,
) -> (json::PlatformManifest, ImageReport) {
    let idx = plan::layers_for(&p.layers, variant);
    let blobs: Vec<&LayerBlob> = idx.iter().map(|&i| &by_key[&p.keys[i]]).collect();
    let labels = labels(opts, p, created, variant);
    let inputs = json::ConfigInputs {
        created: opts.epoch,
        spark_version: &opts.spark_version,
        java_home: &p.java_home,
        timezone: &opts.timezone,
        uid: opts.uid,
        layers: idx
            .iter()
            .zip(&blobs)
            .map(|(&i, b)| (*b, format!("sparkimg build: {}", p.layers[i].name)))
            .collect(),
        labels: labels.clone(),
    };
    let config = json::image_config(&p.base_config, &inputs);
    let all_layers: Vec<&LayerBlob> = p
        .base
        .layers
        .iter()
        .map(|l| &l.blob)
        .chain(blobs.iter().copied())
        .collect();
    let mut annotations = labels;
    annotations.insert(
        "dev.sparkimg.compression".into(),
        opts.compression.describe(),
    );
    let manifest = json::manifest(&config, &all_layers, &annotations);
    let size = manifest.size() + config.size() + all_layers.iter().map(|l| l.size).sum::<u64>();
    let report = ImageReport {
        reference: reference.to_string(),
        manifest_digest: manifest.digest.clone(),
        config_digest: config.digest.clone(),
        size,
        platform: p.platform_name(),
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
        arch: p.arch.clone(),
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
