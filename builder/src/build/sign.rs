//! The signing stage, between assemble and publish: every manifest a run publishes
//! (each image's manifest or index, and an index's platform manifests) gets a cosign
//! signature, written both ways clusters read them: the `.sig` manifest
//! (`sha256-<hex>.sig`, listed in the index under that ref name) and an OCI 1.1
//! referrer (listed by `artifactType`, found through its `subject`). The images' own
//! bytes and digests do not change. Pure: the publish sinks write the result.

use serde::Serialize;
use serde_json::{json, Value};

use super::output::{Blob, BlobSource};
use super::{Assembled, BuildError};
use crate::oci::json::{self, JsonBlob};
use crate::oci::layout::{self as oci_layout, CONTAINERD_NAME, REF_NAME};
use crate::oci::RegistryRef;
use crate::sign::{cosign, Signer};

/// What to sign with, and as which references.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub signer: Signer,
    /// The identities to sign (`push --to`, `rebase --to`); empty: each image's own
    /// reference.
    pub as_references: Vec<RegistryRef>,
}

/// One signature made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The identity signed (`docker-reference`).
    pub reference: String,
    /// The manifest or index signed.
    pub digest: String,
    /// Its cosign tag.
    pub sig_tag: String,
    /// Its OCI 1.1 referrer manifest.
    pub referrer: String,
}

/// `images` with every manifest's signatures added (blobs and index entries), and the
/// signatures made.
pub fn sign(
    images: &Assembled,
    opts: &SignOptions,
) -> Result<(Assembled, Vec<Signature>), BuildError> {
    let index: Value =
        serde_json::from_slice(&images.index.bytes).map_err(|source| BuildError::Json {
            what: "the images' index",
            source,
        })?;
    let mut out = images.clone();
    let mut made = Vec::new();
    // Per signed digest, its layers, in order: the `.sig` manifest lists them all.
    let mut sig_layers: Vec<(String, Vec<Value>)> = Vec::new();
    let mut entries = Vec::new();
    for entry in index["manifests"].as_array().into_iter().flatten() {
        if entry.get("artifactType").is_some() {
            continue;
        }
        let names = identities(entry, &opts.as_references);
        for subject in subjects(images, entry)? {
            let digest = subject["digest"].as_str().unwrap_or_default().to_string();
            for name in &names {
                let layer = opts.signer.sign(name, &digest);
                let referrer = cosign::referrer(&layer, &subject);
                add(&mut out.blobs, &layer.payload);
                add_bytes(&mut out.blobs, json::EMPTY_CONFIG.to_vec());
                add(&mut out.blobs, &referrer);
                entries.push(json!({
                    "mediaType": json::MANIFEST_TYPE,
                    "artifactType": cosign::ARTIFACT_TYPE,
                    "digest": &referrer.digest,
                    "size": referrer.size(),
                }));
                match sig_layers.iter_mut().find(|(d, _)| *d == digest) {
                    Some((_, l)) if !l.contains(&layer.descriptor) => l.push(layer.descriptor),
                    Some(_) => {}
                    None => sig_layers.push((digest.clone(), vec![layer.descriptor])),
                }
                made.push(Signature {
                    reference: name.clone(),
                    digest: digest.clone(),
                    sig_tag: cosign::sig_tag(&digest),
                    referrer: referrer.digest,
                });
            }
        }
    }
    let mut replaced = Vec::new();
    for (digest, layers) in sig_layers {
        // A layout signed before keeps its signatures: ours are appended, as cosign does.
        let tag = cosign::sig_tag(&digest);
        let mut all = earlier_signatures(images, &index, &tag)?;
        for l in layers {
            if !all.contains(&l) {
                all.push(l);
            }
        }
        replaced.push(tag);
        let m = cosign::sig_manifest(&all);
        add(&mut out.blobs, &m.config);
        add(&mut out.blobs, &m.manifest);
        entries.push(json!({
            "mediaType": json::MANIFEST_TYPE,
            "artifactType": cosign::ARTIFACT_TYPE,
            "digest": &m.manifest.digest,
            "size": m.manifest.size(),
            "annotations": {REF_NAME: cosign::sig_tag(&digest)},
        }));
    }
    out.blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
    entries.sort_by_key(|v| v["digest"].as_str().unwrap_or_default().to_string());
    entries.dedup();
    let mut v = index;
    if let Some(list) = v["manifests"].as_array_mut() {
        list.retain(|e| {
            let name = e["annotations"][REF_NAME].as_str().unwrap_or_default();
            !(e.get("artifactType").is_some() && replaced.iter().any(|t| t == name))
        });
        list.extend(entries);
    }
    out.index = json::canonical(v);
    Ok((out, made))
}

/// The signature layers of the `.sig` manifests already listed in `index` as `tag`.
fn earlier_signatures(
    images: &Assembled,
    index: &Value,
    tag: &str,
) -> Result<Vec<Value>, BuildError> {
    let mut layers = Vec::new();
    for e in index["manifests"].as_array().into_iter().flatten() {
        if e.get("artifactType").is_none() || e["annotations"][REF_NAME] != tag {
            continue;
        }
        let bytes = blob_bytes(images, e["digest"].as_str().unwrap_or_default())?;
        let m: Value = serde_json::from_slice(&bytes).map_err(|source| BuildError::Json {
            what: "a .sig manifest",
            source,
        })?;
        layers.extend(m["layers"].as_array().into_iter().flatten().cloned());
    }
    Ok(layers)
}

/// The references an image entry is signed as: `to`, else its own full name.
fn identities(entry: &Value, to: &[RegistryRef]) -> Vec<String> {
    if !to.is_empty() {
        return to.iter().map(|r| r.to_string()).collect();
    }
    let get = |k: &str| entry["annotations"][k].as_str();
    let own = get(CONTAINERD_NAME).or_else(|| oci_layout::entry_names(get).first().copied());
    // Fully qualified (`spark:1` is `docker.io/library/spark:1`), as verifiers compare.
    own.map(|n| RegistryRef::parse(n).map_or(n.to_string(), |r| r.to_string()))
        .into_iter()
        .collect()
}

/// The manifests an image entry publishes, as descriptors: the entry itself and, for
/// an index, each platform manifest.
fn subjects(images: &Assembled, entry: &Value) -> Result<Vec<Value>, BuildError> {
    let desc =
        |d: &Value| json!({"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"]});
    let mut out = vec![desc(entry)];
    if entry["mediaType"] != json::INDEX_TYPE {
        return Ok(out);
    }
    let digest = entry["digest"].as_str().unwrap_or_default();
    let bytes = blob_bytes(images, digest)?;
    let inner: Value = serde_json::from_slice(&bytes).map_err(|source| BuildError::Json {
        what: "an image index",
        source,
    })?;
    out.extend(
        inner["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(desc),
    );
    Ok(out)
}

fn blob_bytes(images: &Assembled, digest: &str) -> Result<Vec<u8>, BuildError> {
    let missing = || BuildError::usage(format!("blob {digest} of the images is missing"));
    match &images
        .blobs
        .iter()
        .find(|b| b.digest == digest)
        .ok_or_else(missing)?
        .source
    {
        BlobSource::Bytes(b) => Ok(b.clone()),
        BlobSource::Path(p) => std::fs::read(p).map_err(BuildError::io(p)),
        BlobSource::Remote { .. } => Err(missing()),
    }
}

fn add(blobs: &mut Vec<Blob>, b: &JsonBlob) {
    if !blobs.iter().any(|x| x.digest == b.digest) {
        blobs.push(Blob {
            digest: b.digest.clone(),
            source: BlobSource::Bytes(b.bytes.clone()),
        });
    }
}

fn add_bytes(blobs: &mut Vec<Blob>, bytes: Vec<u8>) {
    let digest = crate::oci::Digest::of(&bytes).to_string();
    add(blobs, &JsonBlob { bytes, digest });
}
