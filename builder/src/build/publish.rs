//! The publish stage: where built images go. Every destination is a [`Sink`] fed the
//! same [`Assembled`] images (blobs where the build left them, in the layer store or the
//! base's cache, plus the index): the three file outputs ([`FileSink`]), a Docker Engine
//! load ([`LoadSink`]) and a registry push ([`RegistrySink`]). One run may feed several;
//! `sparkimg push` feeds the registry sink from a layout on disk ([`open_layout`]).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::oci::Digest;
use thiserror::Error;

use crate::build::output::{self, Blob, BlobSource};
use crate::build::sboms::{self, SbomDoc};
use crate::build::{Assembled, BuildError, OutputSpec};
use crate::engine::{Daemon, EngineError};
use crate::oci::json::JsonBlob;
use crate::registry::layout::{self, Blobs};
use crate::registry::manifest::Desc;
use crate::registry::push::{BlobData, PushBlob};
use crate::registry::{self, PushReport, RegistryError, RegistryOptions, RegistryRef};

/// A failed delivery, with the error of the part that failed.
#[derive(Debug, Error)]
pub enum PublishError {
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Boxed: registry errors carry the server's whole answer.
    #[error(transparent)]
    Registry(Box<RegistryError>),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A registry answered a manifest with a `subject` (an SBOM's or signature's OCI
    /// 1.1 referrer) with a client error: it does not take referrers.
    #[error("{registry} refused the images' OCI 1.1 referrers (manifests with a subject)")]
    ReferrersRefused {
        registry: String,
        #[source]
        source: Box<RegistryError>,
    },
}

impl From<RegistryError> for PublishError {
    fn from(e: RegistryError) -> Self {
        PublishError::Registry(Box::new(e))
    }
}

impl PublishError {
    /// What to do about it (see [`BuildError::hint`]).
    pub fn hint(&self) -> Option<String> {
        match self {
            PublishError::Build(b) => b.hint(),
            PublishError::Registry(r) => r.hint(),
            PublishError::Engine(d) => d.hint(),
            PublishError::ReferrersRefused { .. } => Some(
                "the images and their cosign `.sig` signatures are pushed; SBOMs and the \
                 signatures' referrers need a registry that stores OCI 1.1 manifests with a \
                 subject (distribution 2.8+, zot, Harbor 2.8+, ECR, GAR, ACR, GHCR)"
                    .into(),
            ),
        }
    }
}

/// What a sink did.
#[derive(Debug, Clone)]
pub enum Delivered {
    /// A layout or archive written at this path.
    Written(PathBuf),
    /// Loaded into the daemon at `endpoint`; image IDs by reference.
    Loaded {
        endpoint: String,
        image_ids: Vec<(String, String)>,
    },
    /// Pushed, one report per tag.
    Pushed(Vec<PushReport>),
}

/// One destination of built images.
pub trait Sink {
    /// Where the images go, for messages and the report's `output`.
    fn describe(&self) -> String;
    /// Refuse early, before any build work (e.g. a path that is not ours).
    fn check(&self) -> Result<(), PublishError> {
        Ok(())
    }
    fn publish(&mut self, images: &Assembled) -> Result<Delivered, PublishError>;
}

/// Feed `images` to every sink, in order; stops at the first failure.
pub fn publish_all(
    sinks: &mut [Box<dyn Sink>],
    images: &Assembled,
) -> Result<Vec<Delivered>, PublishError> {
    sinks.iter_mut().map(|s| s.publish(images)).collect()
}

/// `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`: assembled beside the
/// destination and renamed into place.
pub struct FileSink(pub OutputSpec);

impl Sink for FileSink {
    fn describe(&self) -> String {
        let (kind, p) = match &self.0 {
            OutputSpec::OciDir(p) => ("oci", p),
            OutputSpec::OciArchive(p) => ("oci-archive", p),
            OutputSpec::DockerArchive(p) => ("docker-archive", p),
        };
        format!("{kind}:{}", p.display())
    }

    fn check(&self) -> Result<(), PublishError> {
        Ok(output::check(&self.0)?)
    }

    fn publish(&mut self, images: &Assembled) -> Result<Delivered, PublishError> {
        Ok(Delivered::Written(output::write(
            &images.to_output(&self.0),
        )?))
    }
}

/// A `docker load` streamed from the blobs (no archive on disk).
pub struct LoadSink {
    pub daemon: Daemon,
    /// The references to look up afterwards for their image IDs.
    pub references: Vec<String>,
}

impl Sink for LoadSink {
    fn describe(&self) -> String {
        format!("the Docker Engine at {}", self.daemon.found.endpoint)
    }

    fn publish(&mut self, images: &Assembled) -> Result<Delivered, PublishError> {
        let started = std::time::Instant::now();
        crate::build::engine::load(&self.daemon, images, &mut |l| {
            crate::report::note(&format!("docker load: {l}"))
        })?;
        crate::report::note(&format!(
            "loaded into the Docker Engine in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
        let mut image_ids = Vec::new();
        for r in &self.references {
            if let Some(info) = self.daemon.inspect(r)? {
                image_ids.push((r.clone(), info.id));
            }
        }
        Ok(Delivered::Loaded {
            endpoint: self.daemon.found.endpoint.to_string(),
            image_ids,
        })
    }
}

/// A registry push straight from the blobs: HEAD-skips, mounts, parallel uploads and
/// retries are [`registry::push`]'s.
pub struct RegistrySink {
    pub opts: RegistryOptions,
    /// Only the image with this tag or name (`oci:DIR:REF`); all when `None`.
    pub select: Option<String>,
    /// Push there instead of each image's own reference.
    pub to: Vec<RegistryRef>,
    /// Named in errors: the layout pushed from, or the build.
    pub source: PathBuf,
}

impl Sink for RegistrySink {
    fn describe(&self) -> String {
        "the registry".into()
    }

    fn publish(&mut self, images: &Assembled) -> Result<Delivered, PublishError> {
        Ok(Delivered::Pushed(self.push(images)?))
    }
}

impl RegistrySink {
    /// Blobs, then platform manifests, then each manifest or index by tag; then the
    /// images' referrers (SBOMs) and their referrers tags.
    pub fn push(&self, images: &Assembled) -> Result<Vec<PushReport>, PublishError> {
        let store = AssembledBlobs::new(images, &self.source);
        let plans = layout::plans_from(
            &images.index.bytes,
            &store,
            self.select.as_deref(),
            &self.to,
        )?;
        let referrers = layout::referrer_plans(&images.index.bytes, &store, &plans)?;
        let reports = registry::push(&plans, &self.opts)?;
        // After the images they sign or refer to; the reports stay the images'.
        let sigs = sig_tag_plans(&images.index.bytes, &store, &plans, &self.opts)?;
        if !sigs.is_empty() {
            registry::push(&sigs, &self.opts)?;
        }
        if !referrers.is_empty() {
            registry::push(&referrers, &self.opts).map_err(referrers_refused)?;
        }
        Ok(reports)
    }
}

/// A client error (other than authentication and not found) on pushing referrers is
/// the registry refusing them.
fn referrers_refused(e: RegistryError) -> PublishError {
    match e {
        RegistryError::Http {
            ref registry,
            status,
            ..
        } if (400..500).contains(&status) && ![401, 403, 404, 429].contains(&status) => {
            PublishError::ReferrersRefused {
                registry: registry.clone(),
                source: Box::new(e),
            }
        }
        e => e.into(),
    }
}

/// The `.sig` and `.att` manifests listed in `index` (named `sha256-<hex>.sig`/`.att`) of manifests
/// `images` push: per target repository, the tag's signatures with these appended (as
/// cosign appends), or nothing when it holds them all already.
fn sig_tag_plans(
    index: &[u8],
    store: &dyn Blobs,
    images: &[registry::PushPlan],
    opts: &RegistryOptions,
) -> Result<Vec<registry::PushPlan>, PublishError> {
    use crate::registry::manifest::OCI_MANIFEST;
    use crate::registry::push::PushManifest;
    use crate::sign::cosign;
    let index: serde_json::Value =
        serde_json::from_slice(index).map_err(|source| BuildError::Json {
            what: "the images' index",
            source,
        })?;
    let mut plans: Vec<registry::PushPlan> = Vec::new();
    for e in index["manifests"].as_array().into_iter().flatten() {
        let tag = e["annotations"][crate::oci::layout::REF_NAME].as_str();
        let (Some(tag), Some(_)) = (tag, e.get("artifactType")) else {
            continue;
        };
        let Some(signed) = cosign::attached_digest(tag) else {
            continue;
        };
        let bytes = store.bytes(e["digest"].as_str().unwrap_or_default())?;
        let ours: Vec<serde_json::Value> = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|m| m["layers"].as_array().cloned())
            .unwrap_or_default();
        let owners = images
            .iter()
            .filter(|p| p.top.digest == signed || p.children.iter().any(|c| c.digest == signed));
        for owner in owners {
            let target = RegistryRef {
                tag: Some(tag.to_string()),
                digest: None,
                ..owner.target.clone()
            };
            if plans
                .iter()
                .any(|p| p.target.to_string() == target.to_string())
            {
                continue;
            }
            let existing = registry::manifest_if_any(&target, opts)?;
            let merged = cosign::merged_layers(existing.as_deref(), &ours).map_err(|reason| {
                RegistryError::Manifest {
                    reference: target.to_string(),
                    reason,
                }
            })?;
            let Some(layers) = merged else { continue };
            let m = cosign::sig_manifest(&layers);
            let mut blobs = vec![PushBlob {
                digest: m.config.digest.clone(),
                size: m.config.size(),
                data: BlobData::Bytes(Arc::new(m.config.bytes.clone())),
            }];
            for l in &ours {
                let d = l["digest"].as_str().unwrap_or_default();
                let payload = store.bytes(d)?;
                blobs.push(PushBlob {
                    digest: d.to_string(),
                    size: payload.len() as u64,
                    data: BlobData::Bytes(Arc::new(payload)),
                });
            }
            plans.push(registry::PushPlan {
                target,
                blobs,
                children: Vec::new(),
                top: PushManifest {
                    digest: m.manifest.digest.clone(),
                    media_type: OCI_MANIFEST.into(),
                    bytes: Arc::new(m.manifest.bytes),
                },
                mount_from: Vec::new(),
                referrers_tag_of: None,
            });
        }
    }
    Ok(plans)
}

/// Attaches `docs` to images another client (a Docker Engine) pushed to their
/// references: as [`RegistrySink::push`] does for a build's images, through the
/// registry's referrers API, else the referrers tag schema. Each subject descriptor is
/// the manifest as the registry serves it.
pub fn push_referrers(
    docs: &[SbomDoc],
    opts: &RegistryOptions,
    created: &str,
) -> Result<(), PublishError> {
    // subject digest → (repository, descriptor)
    let mut subjects: HashMap<&str, (RegistryRef, serde_json::Value)> = HashMap::new();
    for d in docs {
        if subjects.contains_key(d.subject.as_str()) {
            continue;
        }
        let repo = RegistryRef {
            tag: None,
            digest: None,
            ..RegistryRef::parse(&d.reference).map_err(RegistryError::from)?
        };
        let pinned = RegistryRef {
            digest: Some(d.subject.clone()),
            ..repo.clone()
        };
        let (media_type, size) = registry::manifest_descriptor(&pinned, opts)?;
        let desc = serde_json::json!({"mediaType": media_type, "digest": d.subject, "size": size});
        subjects.insert(&d.subject, (repo, desc));
    }
    let descs: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| subjects[d.subject.as_str()].1.clone())
        .collect();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::registry::manifest::OCI_INDEX,
        "manifests": [],
    }))
    .map_err(|source| BuildError::Json {
        what: "the referrers index",
        source,
    })?;
    let mut a = Assembled {
        blobs: Vec::new(),
        index: JsonBlob {
            digest: Digest::of(&index).into(),
            bytes: index,
        },
        docker_manifest: Vec::new(),
        sboms: Vec::new(),
        dependencies: Default::default(),
    };
    sboms::attach_to(&mut a, docs, &descs, created);
    let store = AssembledBlobs::new(&a, Path::new("the SBOMs"));
    let owners = |s: &str| {
        subjects
            .get(s)
            .map(|(r, _)| vec![r.clone()])
            .unwrap_or_default()
    };
    let plans = layout::referrer_plans_to(&a.index.bytes, &store, &owners)?;
    registry::push(&plans, opts)?;
    Ok(())
}

/// The blobs of an [`Assembled`] by digest, as the registry's plan builder reads them.
struct AssembledBlobs<'a> {
    root: PathBuf,
    by_digest: HashMap<&'a str, &'a BlobSource>,
}

impl<'a> AssembledBlobs<'a> {
    fn new(a: &'a Assembled, root: &Path) -> Self {
        AssembledBlobs {
            root: root.to_path_buf(),
            by_digest: a
                .blobs
                .iter()
                .map(|b| (b.digest.as_str(), &b.source))
                .collect(),
        }
    }

    fn source(&self, digest: &str) -> Result<&'a BlobSource, RegistryError> {
        self.by_digest
            .get(digest)
            .copied()
            .ok_or_else(|| RegistryError::Layout {
                path: self.root.clone(),
                reason: format!("blob {digest} is missing (a sparse layout cannot be pushed)"),
            })
    }
}

impl Blobs for AssembledBlobs<'_> {
    fn root(&self) -> &Path {
        &self.root
    }

    fn bytes(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        match self.source(digest)? {
            BlobSource::Bytes(b) => Ok(b.clone()),
            BlobSource::Path(p) => fs::read(p).map_err(RegistryError::io(p)),
            BlobSource::Remote { repository, .. } => Err(RegistryError::Layout {
                path: self.root.clone(),
                reason: format!("blob {digest} is in {repository}, not here"),
            }),
        }
    }

    fn blob(&self, d: &Desc) -> Result<PushBlob, RegistryError> {
        let (len, data) = match self.source(&d.digest)? {
            BlobSource::Bytes(b) => (b.len() as u64, BlobData::Bytes(Arc::new(b.clone()))),
            BlobSource::Path(p) => {
                let md = fs::metadata(p).map_err(RegistryError::io(p))?;
                (md.len(), BlobData::Path(p.clone()))
            }
            BlobSource::Remote { repository, size } => {
                (*size, BlobData::Remote(repository.clone()))
            }
        };
        layout::check_size(&self.root, d, len)?;
        Ok(PushBlob {
            digest: d.digest.clone(),
            size: d.size,
            data,
        })
    }
}

/// An OCI layout directory as [`Assembled`] images, so that `sparkimg push` feeds the
/// same [`RegistrySink`] a build does. Blobs stay where they are.
pub fn open_layout(dir: &Path) -> Result<Assembled, PublishError> {
    let index_path = dir.join("index.json");
    let bytes = fs::read(&index_path).map_err(RegistryError::io(&index_path))?;
    let blob_dir = dir.join("blobs").join("sha256");
    let mut blobs = Vec::new();
    // A missing blobs/ directory is reported per blob by the plan builder.
    if let Ok(entries) = fs::read_dir(&blob_dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            blobs.push(Blob {
                digest: format!("sha256:{name}"),
                source: BlobSource::Path(e.path()),
            });
        }
    }
    let docker_manifest = fs::read(dir.join("manifest.json")).unwrap_or_default();
    Ok(Assembled {
        blobs,
        index: JsonBlob {
            digest: Digest::of(&bytes).into(),
            bytes,
        },
        docker_manifest,
        sboms: Vec::new(),
        dependencies: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::manifest::{OCI_INDEX, OCI_MANIFEST};

    fn digest(bytes: &[u8]) -> String {
        Digest::of(bytes).into()
    }

    /// One image: a config and a manifest in memory, a layer in a file.
    fn images(dir: &Path) -> (Assembled, String, String) {
        let layer = b"layer bytes".to_vec();
        let layer_path = dir.join("layer");
        fs::write(&layer_path, &layer).unwrap();
        let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": digest(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": digest(&layer), "size": layer.len()}],
            "annotations": {"org.opencontainers.image.base.name": "127.0.0.1:5000/base:1"},
        }))
        .unwrap();
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest(&manifest),
                           "size": manifest.len(),
                           "annotations": {"io.containerd.image.name": "127.0.0.1:5000/x/spark:1",
                                           "org.opencontainers.image.ref.name": "1"}}],
        }))
        .unwrap();
        let (ld, cd) = (digest(&layer), digest(&config));
        let blobs = vec![
            Blob {
                digest: ld.clone(),
                source: BlobSource::Path(layer_path),
            },
            Blob {
                digest: cd.clone(),
                source: BlobSource::Bytes(config),
            },
            Blob {
                digest: digest(&manifest),
                source: BlobSource::Bytes(manifest),
            },
        ];
        let a = Assembled {
            blobs,
            index: JsonBlob {
                digest: digest(&index),
                bytes: index,
            },
            docker_manifest: Vec::new(),
            sboms: Vec::new(),
            dependencies: Default::default(),
        };
        (a, ld, cd)
    }

    #[test]
    fn registry_plans_come_straight_from_the_built_blobs() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, layer, config) = images(tmp.path());
        let store = AssembledBlobs::new(&a, Path::new("build"));
        let plans = layout::plans_from(&a.index.bytes, &store, None, &[]).unwrap();
        assert_eq!(plans.len(), 1);
        let p = &plans[0];
        assert_eq!(p.target.to_string(), "127.0.0.1:5000/x/spark:1");
        let digests: Vec<&str> = p.blobs.iter().map(|b| b.digest.as_str()).collect();
        assert_eq!(digests.len(), 2);
        assert!(digests.contains(&layer.as_str()) && digests.contains(&config.as_str()));
        // The layer is streamed from where the build left it, not copied.
        let l = p.blobs.iter().find(|b| b.digest == layer).unwrap();
        assert!(matches!(&l.data, BlobData::Path(path) if path == &tmp.path().join("layer")));
        assert_eq!(p.mount_from, vec!["127.0.0.1:5000/base:1".to_string()]);
    }

    #[test]
    fn a_missing_or_short_blob_is_refused_before_any_upload() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut a, layer, _) = images(tmp.path());
        fs::write(tmp.path().join("layer"), b"short").unwrap();
        let store = AssembledBlobs::new(&a, Path::new("build"));
        let e = layout::plans_from(&a.index.bytes, &store, None, &[]).unwrap_err();
        assert!(e.to_string().contains("descriptor says"), "{e}");
        a.blobs.retain(|b| b.digest != layer);
        let store = AssembledBlobs::new(&a, Path::new("build"));
        let e = layout::plans_from(&a.index.bytes, &store, None, &[]).unwrap_err();
        assert!(e.to_string().contains("is missing"), "{e}");
    }

    #[test]
    fn a_layout_on_disk_feeds_the_same_sink() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, _, _) = images(tmp.path());
        let dir = tmp.path().join("oci");
        let spec = OutputSpec::OciDir(dir.clone());
        FileSink(spec).publish(&a).unwrap();
        let opened = open_layout(&dir).unwrap();
        assert_eq!(opened.index.digest, a.index.digest);
        let mut got: Vec<&str> = opened.blobs.iter().map(|b| b.digest.as_str()).collect();
        let mut want: Vec<&str> = a.blobs.iter().map(|b| b.digest.as_str()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        let store = AssembledBlobs::new(&opened, &dir);
        assert_eq!(
            layout::plans_from(&opened.index.bytes, &store, None, &[])
                .unwrap()
                .len(),
            1
        );
    }
}
