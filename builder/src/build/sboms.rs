//! The SBOM step of `build_with`: per image and platform, an inventory of what the
//! image's own layer plans put into it (every jar read once, however many images hold
//! it) plus the base's OS packages, written in the requested formats and attached to
//! the image as OCI referrers (an artifact manifest per document, listed in the index).
//! `rebase` gets the same documents from the old ones ([`rebased_documents`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::digest::{Sha1, Sha256};
use serde_json::{json, Value};

use super::assemble::Origin;
use super::base::BaseImage;
use super::output::{Blob, BlobSource};
use super::plan::{self, Content, Kind as EntryKind};
use super::{Assembled, BuildError, BuildOptions, ImageReport, Prepared};
use crate::layer;
use crate::oci::json;
use crate::sbom::{self, cyclonedx, jar, rust, spdx, Format, Inventory, Kind, Package};

/// One SBOM document of one image on one platform.
#[derive(Debug, Clone)]
pub struct SbomDoc {
    pub reference: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The platform manifest it describes (its referrer's subject).
    pub subject: String,
    pub format: Format,
    pub document: json::JsonBlob,
}

/// A fetched distribution tarball, as its SBOM package names it.
#[derive(Debug, Clone)]
pub struct Tarball {
    pub file: String,
    pub sha512: String,
}

/// The Spark distribution as an SBOM package: its download location is the canonical
/// one ([`super::assemble::Origin`]), none (NOASSERTION) for a `--dist` file or URL.
pub fn spark_package(version: &str, origin: &Origin, tarball: Option<&Tarball>) -> Package {
    let url = origin.source.as_deref();
    let mut p = sbom::spark_package(
        version,
        tarball.map(|t| t.file.as_str()),
        url.unwrap_or("NOASSERTION"),
        tarball.map(|t| t.sha512.as_str()),
    );
    if url.is_none() {
        p.download = None;
    }
    p
}

/// Writes each SBOM document to `--sbom-dir` as `<image>_<tag>_<os>-<arch>.<suffix>`.
pub fn write_dir(dir: &Path, docs: &[SbomDoc]) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir).map_err(BuildError::io(dir))?;
    for d in docs {
        let name: String = format!("{}_{}", d.reference, d.platform)
            .chars()
            .map(
                |c| match c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    true => c,
                    false => '_',
                },
            )
            .collect();
        let path = dir.join(format!("{name}.{}", d.format.suffix()));
        std::fs::write(&path, &d.document.bytes).map_err(BuildError::io(&path))?;
    }
    Ok(())
}

/// What a build needs to describe its images beyond the build itself.
#[derive(Debug, Clone)]
pub struct SbomOptions {
    pub formats: sbom::Formats,
    /// The Spark distribution's package ([`sbom::spark_package`]).
    pub spark: Package,
}

/// Files of one platform image: (path in the image, file on disk).
fn image_files(p: &Prepared, variant: super::Variant) -> Vec<(String, PathBuf)> {
    plan_files(&p.layers, variant)
}

/// The files `layers` put into an image of `variant`: (path in the image, file on disk).
pub fn plan_files(layers: &[plan::LayerPlan], variant: super::Variant) -> Vec<(String, PathBuf)> {
    plan::layers_for(layers, variant)
        .into_iter()
        .flat_map(|i| &layers[i].entries)
        .filter_map(|e| match &e.kind {
            EntryKind::File(Content::Path { path, .. }) => {
                Some((format!("/{}", e.path), path.clone()))
            }
            _ => None,
        })
        .collect()
}

/// What every distinct jar of all images holds, in parallel: from `cache`, else from
/// the `hashes` the layer build teed off plus the jar's central directory, else from
/// one full read.
pub fn scan_jars(
    files: &[(String, PathBuf)],
    cache: Option<&Path>,
    hashes: &BTreeMap<PathBuf, jar::Hashes>,
) -> Result<BTreeMap<PathBuf, jar::JarFacts>, BuildError> {
    let mut paths: Vec<&Path> = files
        .iter()
        .filter(|(img, _)| img.ends_with(".jar"))
        .map(|(_, disk)| disk.as_path())
        .collect();
    paths.sort();
    paths.dedup();
    let facts = layer::run_parallel(&paths, |p| {
        jar::scan_cached(p, cache, hashes.get(*p).cloned())
    });
    paths
        .iter()
        .zip(facts)
        .map(|(p, f)| Ok((p.to_path_buf(), f?)))
        .collect()
}

/// Packages that are not jars: Python archives under `python/lib` and the entrypoint.
fn other_package(
    img: &str,
    disk: &Path,
    spark_version: &str,
) -> Result<Option<Package>, BuildError> {
    if let Some(p) = python_package(img, spark_version) {
        return Ok(Some(p));
    }
    if img == ENTRYPOINT {
        let bytes = std::fs::read(disk).map_err(BuildError::io(disk))?;
        let p = entrypoint_package(&bytes).map_err(|reason| BuildError::EntrypointSbom {
            path: disk.to_path_buf(),
            reason,
        })?;
        return Ok(Some(p));
    }
    Ok(None)
}

/// Where the entrypoint binary is in an image.
pub const ENTRYPOINT: &str = "/opt/spark-entrypoint";

/// Pure: the Python package an image path is (pyspark, py4j under `python/lib`), if any.
pub fn python_package(img: &str, spark_version: &str) -> Option<Package> {
    let file = img.rsplit('/').next().unwrap_or(img);
    let pypi = |name: &str, version: &str| {
        let purl = format!("pkg:pypi/{name}@{}", sbom::encode_segment(version));
        let mut p = Package::new(Kind::Python, name, version, purl);
        p.path = Some(img.to_string());
        p
    };
    if !img.starts_with("/opt/spark/python/lib/") {
        return None;
    }
    if file == "pyspark.zip" {
        return Some(pypi("pyspark", spark_version));
    }
    file.strip_prefix("py4j-")
        .and_then(|f| f.strip_suffix("-src.zip"))
        .map(|v| pypi("py4j", v))
}

/// The entrypoint binary at [`ENTRYPOINT`] (its `bytes`) with the crates it embeds.
pub fn entrypoint_package(bytes: &[u8]) -> Result<Package, String> {
    let crates = rust::crates(bytes).map_err(|e| e.to_string())?;
    // Without a crate list (a binary not built by this workspace), the name and
    // sparkimg's version are all we can say; the package's comment says so.
    let fallback = ("spark-entrypoint", env!("CARGO_PKG_VERSION"));
    let mut p = rust::binary_package(ENTRYPOINT, crates.as_deref(), fallback);
    p.sha256 = Some(hex::encode(Sha256::digest(bytes)));
    p.sha1 = Some(hex::encode(Sha1::digest(bytes)));
    Ok(p)
}

/// The base as its own package, when it is known by digest.
fn prepared_base_package(p: &Prepared) -> Option<Package> {
    Some(base_package(&p.base.name, p.base.digest.as_ref()?))
}

/// The base `name`, whose manifest digest is `digest`, as a package.
pub fn base_package(name: &str, digest: &str) -> Package {
    let short = name.rsplit('/').next().unwrap_or(name);
    let short = short.split([':', '@']).next().unwrap_or(short);
    let purl = format!(
        "pkg:oci/{}@{}?repository_url={}",
        sbom::encode_segment(short),
        sbom::encode(digest),
        sbom::encode(name)
    );
    Package::new(Kind::Base, name, digest, purl)
}

/// OS packages and jars of an image's base (and os-packages layer), and notes on what
/// could not be listed.
pub type OsPackages = (Vec<Package>, Vec<String>);

/// What one platform image holds, as its inventory needs it.
pub struct Contents<'a> {
    /// The files sparkimg put in: (path in the image, file on disk).
    pub files: &'a [(String, PathBuf)],
    pub os: &'a OsPackages,
    /// The base, when known by digest.
    pub base: Option<Package>,
    /// The `--packages` jars, named by their resolution when they carry no
    /// pom.properties.
    pub resolved: &'a [plan::PackageJar],
    /// `(reference, manifest digest, os/arch)`: names the documents.
    pub id: (&'a str, &'a str, String),
}

/// The inventory of one platform image.
fn inventory(
    spark_version: &str,
    so: &SbomOptions,
    c: Contents,
    jars: &BTreeMap<PathBuf, jar::JarFacts>,
    epoch: u64,
) -> Result<Inventory, BuildError> {
    let mut packages = vec![so.spark.clone()];
    for (img, disk) in c.files {
        match jars.get(disk) {
            Some(f) if img.ends_with(".jar") => {
                packages.push(match c.resolved.iter().find(|r| &r.path == disk) {
                    Some(r) => jar::resolved_jar_package(img, f, &r.coordinate),
                    None => jar::jar_package(img, f),
                })
            }
            _ => packages.extend(other_package(img, disk, spark_version)?),
        }
    }
    Ok(with_base(packages, c.os, c.base, c.id, epoch))
}

/// The inventory of an image: the packages of its own layers, then what its base
/// brought (OS packages, jars, the base itself). One definition for `build` and
/// `rebase`.
fn with_base(
    mut packages: Vec<Package>,
    os: &OsPackages,
    base: Option<Package>,
    (reference, digest, platform): (&str, &str, String),
    created: u64,
) -> Inventory {
    // A base file at a path the image's own layers also write is shadowed: the image
    // holds only the new one (a base built by sparkimg has the same /opt/spark jars).
    let own: std::collections::BTreeSet<String> =
        packages.iter().filter_map(|p| p.path.clone()).collect();
    let visible = |p: &&Package| p.path.as_ref().is_none_or(|path| !own.contains(path));
    packages.extend(os.0.iter().filter(visible).cloned());
    packages.extend(base);
    Inventory {
        reference: reference.to_string(),
        digest: digest.to_string(),
        platform,
        created,
        packages,
        notes: os.1.clone(),
    }
    .sorted()
}

/// The documents of one rebased platform image, in the formats of its `old` ones
/// (`(artifactType, bytes)`): the packages they list from the image's own layers (read
/// back, as those layers are not downloaded) on the new base's. `None` when an old
/// document is not one sparkimg wrote.
pub(super) fn rebased_documents(
    old: &[(String, Vec<u8>)],
    base: &BaseImage,
    os: &OsPackages,
    id: (&str, &str, String),
    created: u64,
) -> Option<Vec<SbomDoc>> {
    let mut formats = Vec::new();
    let mut ours = None;
    for (kind, bytes) in old {
        let Some(format) = Format::from_artifact_type(kind) else {
            continue;
        };
        let doc: Value = serde_json::from_slice(bytes).ok()?;
        let packages = sbom::read::packages(format, &doc)?;
        ours.get_or_insert(packages);
        formats.push(format);
    }
    formats.sort();
    formats.dedup();
    let ours: Vec<Package> = ours?.into_iter().filter(|p| !p.from_base()).collect();
    let base = base.digest.as_ref().map(|d| base_package(&base.name, d));
    let inv = with_base(ours, os, base, id, created);
    let docs = formats.into_iter().map(|format| SbomDoc {
        reference: inv.reference.clone(),
        platform: inv.platform.clone(),
        subject: inv.digest.clone(),
        format,
        document: render(format, &inv),
    });
    Some(docs.collect())
}

fn render(format: Format, inv: &Inventory) -> json::JsonBlob {
    match format {
        Format::Spdx => spdx::document(inv),
        Format::CycloneDx => cyclonedx::document(inv),
    }
}

/// The documents of one platform image in the formats `so` asks for.
pub fn image_documents(
    spark_version: &str,
    so: &SbomOptions,
    c: Contents,
    jars: &BTreeMap<PathBuf, jar::JarFacts>,
    epoch: u64,
) -> Result<Vec<SbomDoc>, BuildError> {
    let inv = inventory(spark_version, so, c, jars, epoch)?;
    Ok(formatted(so, &inv))
}

/// The documents of an image whose own packages were read from the image itself (a
/// user's Dockerfile: nothing of the plan is known to be in it), with what its base
/// brought and the base, as [`image_documents`] makes them.
pub fn read_image_documents(
    so: &SbomOptions,
    packages: Vec<Package>,
    os: &OsPackages,
    base: Option<Package>,
    id: (&str, &str, String),
    epoch: u64,
) -> Vec<SbomDoc> {
    formatted(so, &with_base(packages, os, base, id, epoch))
}

/// `inv` in the formats `so` asks for.
fn formatted(so: &SbomOptions, inv: &Inventory) -> Vec<SbomDoc> {
    let formats = [
        (so.formats.spdx, Format::Spdx),
        (so.formats.cyclonedx, Format::CycloneDx),
    ];
    formats
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, format)| SbomDoc {
            reference: inv.reference.clone(),
            platform: inv.platform.clone(),
            subject: inv.digest.clone(),
            format,
            document: render(format, inv),
        })
        .collect()
}

/// What each jar of the build holds.
pub(super) type Jars = BTreeMap<PathBuf, jar::JarFacts>;

/// Every jar any image of the build holds (see [`scan_jars`]), after the layer build.
pub(super) fn scan(
    opts: &BuildOptions,
    prepared: &[Prepared],
    cache: Option<&Path>,
    hashes: &BTreeMap<PathBuf, jar::Hashes>,
) -> Result<Jars, BuildError> {
    let all: Vec<(String, PathBuf)> = opts
        .images
        .iter()
        .flat_map(|(variant, _)| prepared.iter().flat_map(|p| image_files(p, *variant)))
        .collect();
    scan_jars(&all, cache, hashes)
}

/// Every SBOM document of the build: per image, per platform, per format.
pub(super) fn documents(
    opts: &BuildOptions,
    so: &SbomOptions,
    prepared: &[Prepared],
    reports: &[ImageReport],
    jars: &Jars,
) -> Result<Vec<SbomDoc>, BuildError> {
    let mut per_image = Vec::new();
    for ((variant, _), report) in opts.images.iter().zip(reports) {
        let platforms: Vec<&ImageReport> = if report.platforms.is_empty() {
            vec![report]
        } else {
            report.platforms.iter().collect()
        };
        for (p, pr) in prepared.iter().zip(platforms) {
            per_image.push((p, *variant, image_files(p, *variant), report, pr));
        }
    }
    let mut docs = Vec::new();
    for (p, variant, files, report, pr) in per_image {
        // The dpkg status after the variant's os-packages layer, else the base's.
        let os = p
            .variant_os_packages
            .get(&variant)
            .unwrap_or(&p.os_packages);
        let c = Contents {
            files: &files,
            os,
            base: prepared_base_package(p),
            resolved: &opts.packages,
            id: (&report.reference, &pr.manifest_digest, pr.platform.clone()),
        };
        docs.extend(image_documents(
            &opts.spark_version,
            so,
            c,
            jars,
            opts.epoch,
        )?);
    }
    Ok(docs)
}

/// Adds each document, its artifact manifest and the empty config to the blobs, and
/// lists the artifact manifests in the index by `artifactType`, without a ref name (they
/// are found through their `subject`, as registries' referrers API finds them).
pub(super) fn attach(assembled: &mut Assembled, docs: &[SbomDoc], created: &str) {
    let subjects: Vec<Value> = docs
        .iter()
        .map(|d| {
            let size = assembled
                .blobs
                .iter()
                .find(|b| b.digest == d.subject)
                .map(|b| match &b.source {
                    BlobSource::Bytes(x) => x.len() as u64,
                    BlobSource::Path(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                    BlobSource::Remote { size, .. } => *size,
                })
                .unwrap_or(0);
            json!({"mediaType": json::MANIFEST_TYPE, "digest": d.subject, "size": size})
        })
        .collect();
    attach_to(assembled, docs, &subjects, created);
}

/// [`attach`] with each document's subject descriptor given (`subjects[i]` for
/// `docs[i]`): for images that are elsewhere, e.g. pushed by a Docker Engine.
pub fn attach_to(assembled: &mut Assembled, docs: &[SbomDoc], subjects: &[Value], created: &str) {
    let mut extra: Vec<Value> = Vec::new();
    let add = |digest: &str, bytes: Vec<u8>, blobs: &mut Vec<Blob>| {
        if !blobs.iter().any(|b| b.digest == digest) {
            blobs.push(Blob {
                digest: digest.to_string(),
                source: BlobSource::Bytes(bytes),
            });
        }
    };
    for (d, subject) in docs.iter().zip(subjects) {
        let m = json::referrer(d.format.artifact_type(), &d.document, subject, created);
        let empty = crate::oci::Digest::of(json::EMPTY_CONFIG).to_string();
        add(&empty, json::EMPTY_CONFIG.to_vec(), &mut assembled.blobs);
        add(
            &d.document.digest,
            d.document.bytes.clone(),
            &mut assembled.blobs,
        );
        add(&m.digest, m.bytes.clone(), &mut assembled.blobs);
        extra.push(json!({
            "mediaType": json::MANIFEST_TYPE,
            "artifactType": d.format.artifact_type(),
            "digest": m.digest,
            "size": m.size(),
        }));
    }
    assembled.blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
    extra.sort_by_key(|v| v["digest"].as_str().unwrap_or_default().to_string());
    assembled.index = json::with_manifests(&assembled.index, extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_jar_under_one_of_the_images_own_is_not_listed() {
        let jar = |comment: Option<&str>| {
            let mut p = Package::new(Kind::Jar, "x", "1", "pkg:maven/org.a/x@1".into());
            p.path = Some("/opt/spark/jars/x-1.jar".into());
            p.comment = comment.map(String::from);
            p
        };
        let mut elsewhere = jar(Some(sbom::jar::IN_BASE));
        elsewhere.path = Some("/usr/share/java/x-1.jar".into());
        let os = (
            vec![jar(Some(sbom::jar::IN_BASE)), elsewhere.clone()],
            vec![],
        );
        let inv = with_base(
            vec![jar(None)],
            &os,
            None,
            ("r", "sha256:0", "linux/amd64".into()),
            0,
        );
        assert_eq!(inv.packages, vec![jar(None), elsewhere]);
        // Every SPDX id of the document is distinct.
        let ids: Vec<String> = inv.packages.iter().map(|p| p.id(None)).collect();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
