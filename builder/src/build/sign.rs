//! The signing stage, between assemble and publish: every manifest a run publishes
//! (each image's manifest or index, and an index's platform manifests) gets a cosign
//! signature, written both ways clusters read them: the `.sig` manifest
//! (`sha256-<hex>.sig`, listed in the index under that ref name) and an OCI 1.1
//! referrer (listed by `artifactType`, found through its `subject`). With
//! `--provenance`, each also gets a signed SLSA statement the same two ways (`.att`). The images' own
//! bytes and digests do not change. Pure: the publish sinks write the result.

use serde::Serialize;
use serde_json::{json, Value};

use super::output::{Blob, BlobSource};
use super::provenance::Provenance;
use super::{Assembled, BuildError};
use crate::oci::json::{self, JsonBlob};
use crate::oci::layout::{self as oci_layout, CONTAINERD_NAME, REF_NAME};
use crate::oci::RegistryRef;
use crate::sign::{cosign, provenance, Signer};

/// What to sign with, and as which references.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub signer: Signer,
    /// The identities to sign (`push --to`, `rebase --to`); empty: each image's own
    /// reference.
    pub as_references: Vec<RegistryRef>,
    /// `--provenance`: each signed manifest also gets a signed SLSA statement.
    pub provenance: Option<Provenance>,
}

/// `--provenance` without `--sign-key`: the statements would be unsigned.
pub fn provenance_needs_key() -> crate::usage::UsageError {
    crate::usage::UsageError::new("--provenance signs its statements with --sign-key")
        .with_hint("pass --sign-key cosign.key (`sparkimg keygen` writes one)")
}

/// Whether `images` list an attestation (an `.att` manifest), e.g. a layout built with
/// `--provenance`.
pub fn has_attestations(images: &Assembled) -> bool {
    serde_json::from_slice::<Value>(&images.index.bytes).is_ok_and(|v| {
        v["manifests"].as_array().into_iter().flatten().any(|e| {
            e["annotations"][REF_NAME]
                .as_str()
                .is_some_and(|t| t.ends_with(".att"))
        })
    })
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
    /// `--provenance`: the cosign tag of the attestation of the same manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub att_tag: Option<String>,
    /// `--provenance`: the attestation's OCI 1.1 referrer manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// What a run adds to the images: blobs, index entries, and per cosign tag its layers.
#[derive(Default)]
struct Added {
    entries: Vec<Value>,
    /// `(tag, layers)` in order: each `.sig`/`.att` manifest lists them all.
    tags: Vec<(String, Vec<Value>)>,
}

impl Added {
    fn referrer(&mut self, blobs: &mut Vec<Blob>, referrer: &JsonBlob, artifact_type: &str) {
        add(blobs, referrer);
        add_bytes(blobs, json::EMPTY_CONFIG.to_vec());
        self.entries.push(json!({
            "mediaType": json::MANIFEST_TYPE,
            "artifactType": artifact_type,
            "digest": &referrer.digest,
            "size": referrer.size(),
        }));
    }

    fn layer(&mut self, tag: String, layer: Value) {
        match self.tags.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, l)) if !l.contains(&layer) => l.push(layer),
            Some(_) => {}
            None => self.tags.push((tag, vec![layer])),
        }
    }
}

/// `images` with every manifest's signatures (and with provenance, attestations) added
/// (blobs and index entries), and the signatures made.
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
    let mut added = Added::default();
    for entry in index["manifests"].as_array().into_iter().flatten() {
        if entry.get("artifactType").is_some() {
            continue;
        }
        let names = identities(entry, &opts.as_references);
        for (subject, platform) in subjects(images, entry)? {
            let digest = subject["digest"].as_str().unwrap_or_default().to_string();
            for name in &names {
                let layer = opts.signer.sign(name, &digest);
                add(&mut out.blobs, &layer.payload);
                let referrer = cosign::referrer(&layer, &subject);
                added.referrer(&mut out.blobs, &referrer, cosign::ARTIFACT_TYPE);
                let referrer = referrer.digest;
                added.layer(cosign::sig_tag(&digest), layer.descriptor);
                let mut sig = Signature {
                    reference: name.clone(),
                    digest: digest.clone(),
                    sig_tag: cosign::sig_tag(&digest),
                    referrer,
                    att_tag: None,
                    attestation: None,
                };
                if let Some(p) = &opts.provenance {
                    let deps = images.dependencies.of(platform.as_deref());
                    let att = attest(
                        &mut out.blobs,
                        &mut added,
                        p,
                        (name, &subject),
                        &deps,
                        &opts.signer,
                    )?;
                    sig.att_tag = Some(provenance::att_tag(&digest));
                    sig.attestation = Some(att);
                }
                made.push(sig);
            }
        }
    }
    out.index = tagged_index(images, index, added, &mut out.blobs)?;
    out.blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
    Ok((out, made))
}

/// The signed statement of one manifest (`subject`, named `name`) made from `deps`,
/// added as a referrer and an `.att` layer; returns the referrer's digest.
fn attest(
    blobs: &mut Vec<Blob>,
    added: &mut Added,
    p: &Provenance,
    (name, subject): (&str, &Value),
    deps: &[crate::sign::provenance::Dependency],
    signer: &Signer,
) -> Result<String, BuildError> {
    let raw = subject["digest"].as_str().unwrap_or_default();
    let digest = crate::oci::Digest::parse(raw)?;
    let statement = provenance::statement(name, &digest, &p.predicate(deps));
    let envelope = signer.attest(&statement.bytes);
    add(blobs, &envelope);
    let layer = provenance::layer(&envelope);
    let referrer = provenance::referrer(&layer, subject);
    added.referrer(blobs, &referrer, provenance::ARTIFACT_TYPE);
    added.layer(provenance::att_tag(raw), layer);
    Ok(referrer.digest)
}

/// `index` with `added`'s referrers and one manifest per cosign tag (`.sig`, `.att`):
/// what the layout held under that tag with ours appended, as cosign appends.
fn tagged_index(
    images: &Assembled,
    index: Value,
    added: Added,
    blobs: &mut Vec<Blob>,
) -> Result<json::JsonBlob, BuildError> {
    let mut entries = added.entries;
    let mut replaced = Vec::new();
    for (tag, layers) in added.tags {
        let mut all = earlier_signatures(images, &index, &tag)?;
        for l in layers {
            if !all.contains(&l) {
                all.push(l);
            }
        }
        let m = cosign::sig_manifest(&all);
        add(blobs, &m.config);
        add(blobs, &m.manifest);
        let kind = match tag.ends_with(".att") {
            true => provenance::ARTIFACT_TYPE,
            false => cosign::ARTIFACT_TYPE,
        };
        entries.push(json!({
            "mediaType": json::MANIFEST_TYPE,
            "artifactType": kind,
            "digest": &m.manifest.digest,
            "size": m.manifest.size(),
            "annotations": {REF_NAME: &tag},
        }));
        replaced.push(tag);
    }
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
    Ok(json::canonical(v))
}

/// The layers of the `.sig` or `.att` manifests already listed in `index` as `tag`.
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

/// The manifests an image entry publishes, as descriptors with their platform
/// (`os/arch[/variant]`; `None` for the entry itself): the entry and, for an index,
/// each platform manifest.
fn subjects(images: &Assembled, entry: &Value) -> Result<Vec<(Value, Option<String>)>, BuildError> {
    let desc =
        |d: &Value| json!({"mediaType": d["mediaType"], "digest": d["digest"], "size": d["size"]});
    let platform = |d: &Value| {
        let p = &d["platform"];
        let mut name = format!("{}/{}", p["os"].as_str()?, p["architecture"].as_str()?);
        if let Some(v) = p["variant"].as_str() {
            name = format!("{name}/{v}");
        }
        Some(name)
    };
    let mut out = vec![(desc(entry), None)];
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
            .map(|d| (desc(d), platform(d))),
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
