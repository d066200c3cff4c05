//! Read an OCI image layout (what `sparkimg build` writes) into push plans.

use std::path::Path;
use std::sync::Arc;

use super::error::RegistryError;
use super::manifest::{self, Desc, Parsed};
use super::push::{BlobData, PushBlob, PushManifest, PushPlan};
use super::reference::RegistryRef;
use crate::oci::Digest;

use crate::oci::layout::{self, CONTAINERD_NAME, REF_NAME};
const BASE_NAME: &str = "org.opencontainers.image.base.name";

fn bad(dir: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::Layout {
        path: dir.to_path_buf(),
        reason: reason.into(),
    }
}

pub use crate::oci::blob_path;

fn sha256(bytes: &[u8]) -> String {
    Digest::of(bytes).into()
}

/// Where the blobs of a set of images are: an OCI layout directory, or a build's layer
/// store (see `crate::build::publish`). Push plans are made the same way from either.
pub trait Blobs {
    /// Named in errors.
    fn root(&self) -> &Path;
    /// The bytes of blob `digest` (small JSON blobs only), not yet verified.
    fn bytes(&self, digest: &str) -> Result<Vec<u8>, RegistryError>;
    /// Blob `d` ready to upload, its size checked against `d`.
    fn blob(&self, d: &Desc) -> Result<PushBlob, RegistryError>;
}

/// An OCI image layout on disk.
pub struct LayoutDir<'a>(pub &'a Path);

impl Blobs for LayoutDir<'_> {
    fn root(&self) -> &Path {
        self.0
    }

    fn bytes(&self, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let p = blob_path(self.0, digest);
        std::fs::read(&p).map_err(RegistryError::io(&p))
    }

    fn blob(&self, d: &Desc) -> Result<PushBlob, RegistryError> {
        let dir = self.0;
        let p = blob_path(dir, &d.digest);
        let md = std::fs::metadata(&p).map_err(|_| {
            bad(
                dir,
                format!(
                    "blob {} is missing (a sparse layout cannot be pushed)",
                    d.digest
                ),
            )
        })?;
        check_size(dir, d, md.len())?;
        Ok(PushBlob {
            digest: d.digest.clone(),
            size: d.size,
            data: BlobData::Path(p),
        })
    }
}

/// A blob whose length differs from its descriptor's is refused before any upload.
pub fn check_size(root: &Path, d: &Desc, len: u64) -> Result<(), RegistryError> {
    if len == d.size {
        return Ok(());
    }
    Err(bad(
        root,
        format!(
            "blob {} is {len} bytes, its descriptor says {}",
            d.digest, d.size
        ),
    ))
}

fn read_verified(blobs: &dyn Blobs, d: &Desc) -> Result<Vec<u8>, RegistryError> {
    let dir = blobs.root();
    if !Digest::is_valid(&d.digest) {
        return Err(bad(dir, format!("unsupported digest {}", d.digest)));
    }
    let bytes = blobs.bytes(&d.digest)?;
    if sha256(&bytes) != d.digest {
        return Err(bad(
            dir,
            format!("blob {} does not match its digest", d.digest),
        ));
    }
    Ok(bytes)
}

fn blob_checked(blobs: &dyn Blobs, d: &Desc) -> Result<PushBlob, RegistryError> {
    if !Digest::is_valid(&d.digest) {
        return Err(bad(
            blobs.root(),
            format!("unsupported digest {}", d.digest),
        ));
    }
    blobs.blob(d)
}

/// Names an index entry carries (full reference first).
fn names(d: &Desc) -> Vec<&str> {
    layout::entry_names(annotation(d))
}

/// Looks an annotation of index entry `d` up.
fn annotation<'a>(d: &'a Desc) -> impl Fn(&str) -> Option<&'a str> + 'a {
    move |k| d.annotations.as_ref()?.get(k).map(String::as_str)
}

/// Pure: does index entry `d` answer to `selector` (a tag, or a full name:tag)?
fn selected(d: &Desc, selector: &str) -> bool {
    layout::entry_answers_to(annotation(d), selector)
}

/// Pure: where an entry goes when no `--to` is given: its full reference annotation.
/// A bare tag (`3.5.3`) names no repository and cannot be pushed without `--to`.
fn target_of(d: &Desc) -> Option<RegistryRef> {
    names(d).iter().find_map(|n| {
        let slash = n.rfind('/').map_or(0, |i| i + 1);
        if n.contains('/') || n[slash..].contains(':') {
            RegistryRef::parse(n).ok().filter(|r| r.tag.is_some())
        } else {
            None
        }
    })
}

/// Plans for the images of layout `dir`: those matching `select` (all when `None`), to
/// `to` (each selected image to each `--to`, which then must select one image) or to
/// their annotated references.
pub fn plans(
    dir: &Path,
    select: Option<&str>,
    to: &[RegistryRef],
) -> Result<Vec<PushPlan>, RegistryError> {
    let index_path = dir.join("index.json");
    let bytes = std::fs::read(&index_path).map_err(RegistryError::io(&index_path))?;
    plans_from(&bytes, &LayoutDir(dir), select, to)
}

/// [`plans`] for any [`Blobs`]: `index` is the layout's `index.json`.
pub fn plans_from(
    index: &[u8],
    blobs: &dyn Blobs,
    select: Option<&str>,
    to: &[RegistryRef],
) -> Result<Vec<PushPlan>, RegistryError> {
    let dir = blobs.root();
    let Parsed::Index { manifests, .. } =
        manifest::parse(index, Some(manifest::OCI_INDEX), &dir.display().to_string())?
    else {
        return Err(bad(dir, "index.json is not an image index"));
    };
    let entries: Vec<&Desc> = manifests
        .iter()
        .filter(|d| d.artifact_type.is_none())
        .filter(|d| select.is_none_or(|s| selected(d, s)))
        .collect();
    if entries.is_empty() {
        return Err(bad(
            dir,
            match select {
                Some(s) => format!("no image named '{s}' in index.json"),
                None => "index.json lists no image".into(),
            },
        ));
    }
    if !to.is_empty() && entries.len() > 1 {
        return Err(bad(
            dir,
            format!(
                "{} images in the layout; select one with oci:DIR:REF to use --to",
                entries.len()
            ),
        ));
    }
    let mut plans = Vec::new();
    for d in entries {
        let targets: Vec<RegistryRef> = if to.is_empty() {
            vec![target_of(d).ok_or_else(|| {
                bad(
                    dir,
                    format!(
                        "image {} has no full reference annotation; pass --to REGISTRY/REPO:TAG",
                        d.digest
                    ),
                )
            })?]
        } else {
            to.to_vec()
        };
        plans.extend(entry_plans(blobs, d, targets)?);
    }
    Ok(plans)
}

/// One plan per target for index entry `d`: its blobs, child manifests and top manifest.
fn entry_plans(
    src: &dyn Blobs,
    d: &Desc,
    targets: Vec<RegistryRef>,
) -> Result<Vec<PushPlan>, RegistryError> {
    let dir = src.root();
    let top_bytes = read_verified(src, d)?;
    let mut blobs: Vec<PushBlob> = Vec::new();
    let mut children = Vec::new();
    let mut mount_from = Vec::new();
    let mut add_image = |mbytes: &[u8], mt: &str, reference: &str| -> Result<(), RegistryError> {
        match manifest::parse(mbytes, Some(mt), reference)? {
            Parsed::Manifest {
                config,
                layers,
                annotations,
                ..
            } => {
                for b in std::iter::once(&config).chain(layers.iter()) {
                    if !blobs.iter().any(|x| x.digest == b.digest) {
                        blobs.push(blob_checked(src, b)?);
                    }
                }
                // A base read from disk is named by its digest: no repository to mount from.
                if let Some(n) = annotations.get(BASE_NAME) {
                    if !crate::oci::reference::is_content_name(n) {
                        mount_from.push(n.clone());
                    }
                }
                Ok(())
            }
            Parsed::Index { .. } => Err(bad(dir, "nested indexes are not supported")),
        }
    };
    let media_type = match manifest::parse(&top_bytes, Some(&d.media_type), &d.digest)? {
        Parsed::Index {
            manifests: kids,
            media_type,
        } => {
            for k in &kids {
                let kb = read_verified(src, k)?;
                add_image(&kb, &k.media_type, &k.digest)?;
                children.push(PushManifest {
                    digest: k.digest.clone(),
                    media_type: k.media_type.clone(),
                    bytes: Arc::new(kb),
                });
            }
            media_type
        }
        Parsed::Manifest { media_type, .. } => {
            add_image(&top_bytes, &d.media_type, &d.digest)?;
            media_type
        }
    };
    // Big blobs first: the longest uploads start earliest, the parallel push ends
    // sooner.
    blobs.sort_by_key(|b| std::cmp::Reverse(b.size));
    let top = PushManifest {
        digest: d.digest.clone(),
        media_type,
        bytes: Arc::new(top_bytes),
    };
    Ok(targets
        .into_iter()
        .map(|target| PushPlan {
            target,
            blobs: blobs.clone(),
            children: children.clone(),
            top: top.clone(),
            mount_from: mount_from.clone(),
            referrers_tag_of: None,
        })
        .collect())
}

fn read_json(dir: &Path, digest: &str) -> Result<serde_json::Value, RegistryError> {
    let path = blob_path(dir, digest);
    let bytes = std::fs::read(&path).map_err(RegistryError::io(&path))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(dir, format!("{digest}: {e}")))
}

/// The documents of the referrers listed in a layout's `index.json` beside the image
/// (by ref name `select`, or the only image; for an index, its `platform` manifest),
/// as the registry's [`super::referrers`] finds them there.
pub fn referrers(
    dir: &Path,
    select: Option<&str>,
    platform: &crate::oci::Platform,
) -> Result<super::Referrers, RegistryError> {
    use serde_json::Value;
    let index_path = dir.join("index.json");
    let text = std::fs::read(&index_path).map_err(RegistryError::io(&index_path))?;
    let index: Value =
        serde_json::from_slice(&text).map_err(|e| bad(dir, format!("index.json: {e}")))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    let named = |e: &Value, s: &str| {
        let a = &e["annotations"];
        a[REF_NAME] == s || a[CONTAINERD_NAME] == s
    };
    let images: Vec<&Value> = entries
        .iter()
        .filter(|e| e.get("artifactType").is_none())
        .filter(|e| select.is_none_or(|s| named(e, s)))
        .collect();
    let [image] = images.as_slice() else {
        return Err(bad(
            dir,
            format!("{} images match: select one with oci:DIR:REF", images.len()),
        ));
    };
    let mut subject = image["digest"].as_str().unwrap_or_default().to_string();
    if image["mediaType"] == manifest::OCI_INDEX {
        let inner = read_json(dir, &subject)?;
        let found = inner["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| {
                m["platform"]["os"] == platform.os.as_str()
                    && m["platform"]["architecture"] == platform.arch.as_str()
            });
        if let Some(m) = found {
            subject = m["digest"].as_str().unwrap_or_default().to_string();
        }
    }
    let mut documents = Vec::new();
    for e in entries.iter().filter(|e| e.get("artifactType").is_some()) {
        let m = read_json(dir, e["digest"].as_str().unwrap_or_default())?;
        if m["subject"]["digest"] != subject.as_str() {
            continue;
        }
        let (Some(kind), Some(layer)) = (
            m["artifactType"].as_str(),
            m["layers"][0]["digest"].as_str(),
        ) else {
            continue;
        };
        let path = blob_path(dir, layer);
        let bytes = std::fs::read(&path).map_err(RegistryError::io(&path))?;
        documents.push((kind.to_string(), bytes));
    }
    Ok(super::Referrers { subject, documents })
}

/// Pure: the referrers tag of the distribution spec's fallback (`sha256-<hex>`), for
/// registries without the referrers API.
pub fn referrers_tag(subject: &str) -> String {
    subject.replace(':', "-")
}

/// Push plans for the layout's referrers (artifact manifests listed in `index` with an
/// `artifactType`, e.g. SBOMs) whose subject `images` push: each artifact by digest into
/// the subject's repository, then per subject the referrers tag schema's index. The
/// index lists this layout's referrers of that subject (it replaces what the tag held);
/// `push` leaves it out when the registry took the referrers through its referrers API.
pub fn referrer_plans(
    index: &[u8],
    blobs: &dyn Blobs,
    images: &[PushPlan],
) -> Result<Vec<PushPlan>, RegistryError> {
    let owners = |subject: &str| -> Vec<RegistryRef> {
        images
            .iter()
            .filter(|p| p.top.digest == subject || p.children.iter().any(|c| c.digest == subject))
            .map(|p| p.target.clone())
            .collect()
    };
    referrer_plans_to(index, blobs, &owners)
}

/// [`referrer_plans`] into the repositories `owners` gives for each subject digest (the
/// repositories its image is pushed to, or was pushed to by another client).
pub fn referrer_plans_to(
    index: &[u8],
    blobs: &dyn Blobs,
    owners: &dyn Fn(&str) -> Vec<RegistryRef>,
) -> Result<Vec<PushPlan>, RegistryError> {
    let dir = blobs.root();
    let Parsed::Index { manifests, .. } =
        manifest::parse(index, Some(manifest::OCI_INDEX), &dir.display().to_string())?
    else {
        return Err(bad(dir, "index.json is not an image index"));
    };
    let mut plans = Vec::new();
    // (repository target, subject) → descriptors for the referrers index.
    let mut tags: Vec<(RegistryRef, String, Vec<serde_json::Value>)> = Vec::new();
    for d in manifests.iter().filter(|d| d.artifact_type.is_some()) {
        let bytes = read_verified(blobs, d)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad(dir, format!("referrer {}: {e}", d.digest)))?;
        let Some(subject) = v["subject"]["digest"].as_str() else {
            continue;
        };
        let Parsed::Manifest { config, layers, .. } =
            manifest::parse(&bytes, Some(manifest::OCI_MANIFEST), &d.digest)?
        else {
            return Err(bad(dir, format!("referrer {} is an index", d.digest)));
        };
        for owner in owners(subject) {
            let target = RegistryRef {
                tag: None,
                digest: None,
                ..owner
            };
            let mut pushed = Vec::new();
            for b in std::iter::once(&config).chain(layers.iter()) {
                pushed.push(blob_checked(blobs, b)?);
            }
            plans.push(PushPlan {
                target: target.clone(),
                blobs: pushed,
                children: Vec::new(),
                top: PushManifest {
                    digest: d.digest.clone(),
                    media_type: manifest::OCI_MANIFEST.into(),
                    bytes: Arc::new(bytes.clone()),
                },
                mount_from: Vec::new(),
                referrers_tag_of: None,
            });
            let entry = serde_json::json!({
                "mediaType": manifest::OCI_MANIFEST,
                "digest": d.digest,
                "size": d.size,
                "artifactType": d.artifact_type,
            });
            match tags
                .iter_mut()
                .find(|(t, s, _)| t.to_string() == target.to_string() && s == subject)
            {
                Some((_, _, list)) if !list.contains(&entry) => list.push(entry),
                Some(_) => {}
                None => tags.push((target, subject.to_string(), vec![entry])),
            }
        }
    }
    for (target, subject, list) in tags {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_INDEX,
            "manifests": list,
        }))
        .map_err(|e| bad(dir, format!("referrers index: {e}")))?;
        plans.push(PushPlan {
            target: RegistryRef {
                tag: Some(referrers_tag(&subject)),
                ..target
            },
            blobs: Vec::new(),
            children: Vec::new(),
            top: PushManifest {
                digest: sha256(&bytes),
                media_type: manifest::OCI_INDEX.into(),
                bytes: Arc::new(bytes),
            },
            mount_from: Vec::new(),
            referrers_tag_of: Some(subject),
        });
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(names: &[(&str, &str)]) -> Desc {
        Desc {
            media_type: manifest::OCI_MANIFEST.into(),
            digest: "sha256:x".into(),
            size: 1,
            platform: None,
            annotations: Some(
                names
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            artifact_type: None,
        }
    }

    #[test]
    fn targets_and_selection() {
        let single = desc(&[
            (REF_NAME, "3.5.3"),
            (CONTAINERD_NAME, "127.0.0.1:5000/x/spark:3.5.3"),
        ]);
        assert_eq!(
            target_of(&single).unwrap().to_string(),
            "127.0.0.1:5000/x/spark:3.5.3"
        );
        assert!(selected(&single, "3.5.3"));
        assert!(selected(&single, "127.0.0.1:5000/x/spark:3.5.3"));
        assert!(!selected(&single, "3.5.4"));
        let bare = desc(&[(REF_NAME, "latest")]);
        assert_eq!(target_of(&bare), None);
        // docker-image-tool.sh style names without a registry go to Docker Hub.
        let hub = desc(&[(REF_NAME, "spark:3.5.3")]);
        assert_eq!(
            target_of(&hub).unwrap().to_string(),
            "docker.io/library/spark:3.5.3"
        );
    }
}
