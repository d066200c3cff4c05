//! Effects: open the base image (`oci:`, `oci-archive:`, `docker-archive:`, `rootfs:`)
//! and make its blobs available as files, untouched.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::digest::Sha256;
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, ImageConfiguration, ImageConfigurationBuilder, ImageIndex,
    ImageManifest, MediaType, Os, RootFsBuilder,
};

use super::error::BuildError;
use crate::layer::cache::{self, LayerCache};
use crate::layer::{self, blob_path, Compression, LayerBlob};
use crate::oci::{BaseSpec, ImagePlatforms, Location, Platform};

/// A base layer blob on disk.
#[derive(Debug, Clone)]
pub struct BaseLayer {
    pub blob: LayerBlob,
    pub path: PathBuf,
}

#[derive(Debug)]
pub struct BaseImage {
    /// For the `org.opencontainers.image.base.name` annotation: a registry reference, or
    /// a base on disk by its content (never its path).
    pub name: String,
    /// Manifest digest (or config digest for legacy docker archives); none for rootfs.
    pub digest: Option<String>,
    pub config: ImageConfiguration,
    pub layers: Vec<BaseLayer>,
    /// The manifest's annotations (none for legacy docker archives and rootfs).
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Keeps extracted archives alive while their blobs are used.
    _tmp: Option<tempfile::TempDir>,
}

impl BaseImage {
    /// `os/arch[/variant]` from the config.
    pub fn platform_name(&self) -> String {
        let mut name = format!("{}/{}", self.config.os(), self.config.architecture());
        if let Some(v) = self.config.variant() {
            name = format!("{name}/{v}");
        }
        name
    }
}

fn base_err(msg: impl Into<String>) -> BuildError {
    BuildError::Base(msg.into())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BuildError> {
    let bytes = fs::read(path).map_err(BuildError::io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| base_err(format!("{}: {e}", path.display())))
}

fn oci_blob(root: &Path, d: &Descriptor) -> PathBuf {
    root.join("blobs")
        .join(d.digest().algorithm().to_string())
        .join(d.digest().digest())
}

/// Looks an annotation of index entry `d` up.
fn annotation<'a>(d: &'a Descriptor) -> impl Fn(&str) -> Option<&'a str> + 'a {
    move |k| d.annotations().as_ref()?.get(k).map(String::as_str)
}

fn platform_matches(d: &Descriptor, want: &Platform) -> bool {
    d.platform().as_ref().is_some_and(|p| {
        p.os().to_string() == want.os
            && p.architecture().to_string() == want.arch
            && (want.variant.is_none() || p.variant().as_deref() == want.variant.as_deref())
    })
}

fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex)
        || mt.to_string() == "application/vnd.docker.distribution.manifest.list.v2+json"
}

/// OCI media type for a base layer: Docker's gzip type maps to OCI's, so our manifest
/// never mixes the two families (containers/image rejects mixed manifests).
fn oci_layer_type(mt: &str) -> Result<String, BuildError> {
    Ok(match mt {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.v1.tar+gzip".into()
        }
        "application/vnd.docker.image.rootfs.diff.tar" => {
            "application/vnd.oci.image.layer.v1.tar".into()
        }
        m if m.starts_with("application/vnd.oci.image.layer.v1.tar") => m.to_string(),
        m => return Err(base_err(format!("unsupported layer media type {m}"))),
    })
}

/// The images of a layout's `index.json` named `reference` (all without one).
/// Artifacts (SBOM referrers) beside the images are not images.
fn named<'a>(index: &'a ImageIndex, reference: Option<&str>) -> Vec<&'a Descriptor> {
    let images = index
        .manifests()
        .iter()
        .filter(|d| d.artifact_type().is_none());
    match reference {
        Some(r) => images
            .filter(|d| crate::oci::layout::entry_answers_to(annotation(d), r))
            .collect(),
        None => images.collect(),
    }
}

/// What an `oci:` layout says of one image (`reference` as for [`open`]): its full name
/// (`io.containerd.image.name`, else its ref name) and, when it is a multi-platform
/// index, its platforms in index order (empty: one image manifest).
pub fn layout_image(
    root: &Path,
    reference: Option<&str>,
) -> Result<(Option<String>, Vec<Platform>), BuildError> {
    let index: ImageIndex = read_json(&root.join("index.json"))?;
    let found = named(&index, reference);
    let Some(desc) = found.first() else {
        return Err(base_err(format!(
            "{}: no image{} in index.json",
            root.display(),
            reference
                .map(|r| format!(" named '{r}'"))
                .unwrap_or_default()
        )));
    };
    let name = crate::oci::layout::entry_names(annotation(desc))
        .first()
        .map(|n| n.to_string());
    if found.len() > 1 || !is_index(desc.media_type()) {
        return Ok((name, Vec::new()));
    }
    let inner: ImageIndex = read_json(&oci_blob(root, desc))?;
    let platforms = inner
        .manifests()
        .iter()
        .filter(|d| d.artifact_type().is_none())
        .filter_map(|d| d.platform().as_ref())
        .map(|p| Platform {
            os: p.os().to_string(),
            arch: p.architecture().to_string(),
            variant: p.variant().clone(),
        })
        .collect();
    Ok((name, platforms))
}

/// The platforms of the image `reference` names in the layout at `root`: an index's
/// list, or for a single image manifest the platform its config declares (as
/// `registry::pull::platforms` reads a registry image's).
pub fn layout_platforms(
    root: &Path,
    reference: Option<&str>,
) -> Result<ImagePlatforms, BuildError> {
    let index: ImageIndex = read_json(&root.join("index.json"))?;
    match named(&index, reference).as_slice() {
        [one] if !is_index(one.media_type()) => {
            let manifest: ImageManifest = read_json(&oci_blob(root, one))?;
            let config: ImageConfiguration = read_json(&oci_blob(root, manifest.config()))?;
            Ok(ImagePlatforms::Single(Platform {
                os: config.os().to_string(),
                arch: config.architecture().to_string(),
                variant: config.variant().clone(),
            }))
        }
        _ => Ok(ImagePlatforms::Index(layout_image(root, reference)?.1)),
    }
}

fn open_oci_layout(
    root: &Path,
    reference: Option<&str>,
    want: &Platform,
    name: String,
    tmp: Option<tempfile::TempDir>,
) -> Result<BaseImage, BuildError> {
    let index: ImageIndex = read_json(&root.join("index.json"))?;
    let candidates = named(&index, reference);
    let mut desc = match candidates.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(base_err(format!(
                "{}: no image{} in index.json",
                root.display(),
                reference
                    .map(|r| format!(" named '{r}'"))
                    .unwrap_or_default()
            )))
        }
        many => {
            // Several entries: an image per platform, or several tags. Pick by platform.
            match many.iter().find(|d| platform_matches(d, want)) {
                Some(d) => (*d).clone(),
                None => {
                    return Err(base_err(format!(
                        "{}: {} images in index.json; select one with {}:REF",
                        root.display(),
                        many.len(),
                        root.display()
                    )))
                }
            }
        }
    };
    // Follow nested indexes (multi-arch) down to the manifest for our platform.
    for _ in 0..4 {
        if !is_index(desc.media_type()) {
            break;
        }
        let inner: ImageIndex = read_json(&oci_blob(root, &desc))?;
        desc = inner
            .manifests()
            .iter()
            .find(|d| platform_matches(d, want))
            .cloned()
            .ok_or_else(|| base_err(format!("the base image has no {want} variant")))?;
    }
    let manifest_path = oci_blob(root, &desc);
    let manifest: ImageManifest = read_json(&manifest_path)?;
    let config: ImageConfiguration = read_json(&oci_blob(root, manifest.config()))?;
    let mut layers = Vec::new();
    for (l, diff_id) in manifest
        .layers()
        .iter()
        .zip(config.rootfs().diff_ids().iter())
    {
        let path = oci_blob(root, l);
        let sparse = root.join(crate::registry::pull::SPARSE_MARKER).is_file();
        let blob = LayerBlob {
            digest: l.digest().to_string(),
            diff_id: diff_id.clone(),
            size: l.size(),
            media_type: oci_layer_type(l.media_type().as_ref())?,
        };
        match fs::metadata(&path) {
            Ok(md) if md.len() != l.size() => {
                return Err(base_err(format!("layer {} has the wrong size", l.digest())));
            }
            Ok(_) => {}
            // A registry image `rebase` pulled without its Spark layers: they stay in
            // the registry, and `path` names nothing.
            Err(_) if sparse => {}
            Err(_) => {
                return Err(base_err(format!(
                    "layer {} is missing from {} (sparse layouts cannot be used as a base)",
                    l.digest(),
                    root.display()
                )))
            }
        }
        layers.push(BaseLayer { blob, path });
    }
    if layers.len() != manifest.layers().len() {
        return Err(base_err(
            "config diff_ids and manifest layers differ in number",
        ));
    }
    Ok(BaseImage {
        name,
        digest: Some(desc.digest().to_string()),
        config,
        layers,
        annotations: manifest
            .annotations()
            .clone()
            .map(|a| a.into_iter().collect())
            .unwrap_or_default(),
        _tmp: tmp,
    })
}

fn unpack_archive(file: &Path) -> Result<tempfile::TempDir, BuildError> {
    let f = layer::decompressing_reader(file)?;
    crate::oci::layout::unpack_archive(f, "sparkimg-base-").map_err(BuildError::io(file))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn sha256_file(path: &Path) -> Result<(String, u64), BuildError> {
    let mut f = File::open(path).map_err(BuildError::io(path))?;
    let mut h = Sha256::new();
    let n = io::copy(&mut f, &mut h).map_err(BuildError::io(path))?;
    Ok((crate::oci::Digest::from_sha256(h.finalize()).into(), n))
}

fn open_docker_legacy(
    root: &Path,
    reference: Option<&str>,
    name: String,
    tmp: tempfile::TempDir,
) -> Result<BaseImage, BuildError> {
    let entries: Vec<LegacyEntry> = read_json(&root.join("manifest.json"))?;
    let entry = match reference {
        Some(r) => entries.iter().find(|e| {
            e.repo_tags
                .as_ref()
                .is_some_and(|t| t.iter().any(|t| t == r || t.ends_with(&format!(":{r}"))))
        }),
        None if entries.len() == 1 => entries.first(),
        None => None,
    }
    .ok_or_else(|| {
        base_err("select one image of the docker archive with docker-archive:FILE:REPO:TAG")
    })?;
    let config_path = root.join(&entry.config);
    let (config_digest, _) = sha256_file(&config_path)?;
    let config: ImageConfiguration = read_json(&config_path)?;
    let mut layers = Vec::new();
    for (rel, diff_id) in entry.layers.iter().zip(config.rootfs().diff_ids()) {
        let path = root.join(rel);
        let (digest, size) = sha256_file(&path)?;
        let mut magic = [0u8; 4];
        let n = File::open(&path)
            .and_then(|mut f| f.read(&mut magic))
            .map_err(BuildError::io(&path))?;
        let media_type = if n >= 2 && magic[..2] == [0x1f, 0x8b] {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        };
        layers.push(BaseLayer {
            blob: LayerBlob {
                digest,
                diff_id: diff_id.clone(),
                size,
                media_type: media_type.into(),
            },
            path,
        });
    }
    if layers.len() != entry.layers.len() {
        return Err(base_err(
            "config diff_ids and archive layers differ in number",
        ));
    }
    Ok(BaseImage {
        name,
        digest: Some(config_digest),
        config,
        layers,
        annotations: Default::default(),
        _tmp: Some(tmp),
    })
}

fn arch_of(p: &Platform) -> Arch {
    Arch::from(p.arch.as_str())
}

/// Open the base. `rootfs:` tarballs are re-compressed into `store` (cached by `cache`).
/// A base on disk is named by its content ([`Location::content_name`]: its digest, a
/// rootfs by its tar's, the sha256 of the uncompressed tar), never by its path.
pub fn open(
    spec: &BaseSpec,
    want: &Platform,
    compression: Compression,
    store: &Path,
    cache: Option<&LayerCache>,
) -> Result<BaseImage, BuildError> {
    let mut image = open_spec(spec, want, compression, store, cache)?;
    if let BaseSpec::Local(location) = spec {
        // A rootfs has no manifest: its one layer's diff ID is its content.
        let digest = (image.digest.as_ref())
            .or_else(|| image.layers.first().map(|l| &l.blob.diff_id))
            .cloned()
            .unwrap_or_default();
        image.name = location.content_name(&digest);
    }
    Ok(image)
}

fn open_spec(
    spec: &BaseSpec,
    want: &Platform,
    compression: Compression,
    store: &Path,
    cache: Option<&LayerCache>,
) -> Result<BaseImage, BuildError> {
    match spec {
        BaseSpec::Registry(r) => Err(BuildError::usage(format!(
            "base image '{r}' is a registry reference: pull it first \
             (sparkimg::registry::pull) and pass BaseSpec::Pulled"
        ))),
        // The layout holds exactly the platform manifest, so its digest is the one
        // `base.digest` records.
        BaseSpec::Pulled { dir, name } => open_oci_layout(dir, None, want, name.clone(), None),
        BaseSpec::Local(Location::OciDir { dir, reference }) => {
            if !dir.join("index.json").is_file() {
                return Err(base_err(format!(
                    "{} is not an OCI image layout (no index.json)",
                    dir.display()
                )));
            }
            open_oci_layout(dir, reference.as_deref(), want, String::new(), None)
        }
        BaseSpec::Local(Location::OciArchive { file, reference }) => {
            let tmp = unpack_archive(file)?;
            let root = tmp.path().to_path_buf();
            open_oci_layout(&root, reference.as_deref(), want, String::new(), Some(tmp))
        }
        BaseSpec::Local(Location::DockerArchive { file, reference }) => {
            let tmp = unpack_archive(file)?;
            let root = tmp.path().to_path_buf();
            let name = String::new();
            if root.join("index.json").is_file() && root.join("oci-layout").is_file() {
                // `docker save` since v25 writes an OCI layout too; its ref names may be
                // full references, which open_oci_layout matches.
                open_oci_layout(&root, reference.as_deref(), want, name, Some(tmp))
            } else if root.join("manifest.json").is_file() {
                open_docker_legacy(&root, reference.as_deref(), name, tmp)
            } else {
                Err(base_err(format!(
                    "{} has neither manifest.json nor index.json",
                    file.display()
                )))
            }
        }
        BaseSpec::Local(Location::Rootfs(file)) => {
            let key = cache::file_key(file, compression)?;
            let blob = match cache.and_then(|c| c.get(&key)) {
                Some(b) => b,
                None => {
                    let b = layer::restream_layer(file, compression, store)?;
                    if let Some(c) = cache {
                        c.put(&key, &b)?;
                    }
                    b
                }
            };
            let rootfs = RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![blob.diff_id.clone()])
                .build()
                .map_err(|e| base_err(e.to_string()))?;
            let config = ImageConfigurationBuilder::default()
                .architecture(arch_of(want))
                .os(Os::from(want.os.as_str()))
                .config(
                    ConfigBuilder::default()
                        .build()
                        .map_err(|e| base_err(e.to_string()))?,
                )
                .rootfs(rootfs)
                .build()
                .map_err(|e| base_err(e.to_string()))?;
            let path = blob_path(store, &blob.digest);
            Ok(BaseImage {
                name: String::new(),
                digest: None,
                config,
                layers: vec![BaseLayer { blob, path }],
                annotations: Default::default(),
                _tmp: None,
            })
        }
    }
}
