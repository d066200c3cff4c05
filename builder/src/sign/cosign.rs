//! Pure: cosign's signature objects, the one place that knows their format.
//!
//! - The "simple signing" payload: `{"critical":{"identity":{"docker-reference":…},
//!   "image":{"docker-manifest-digest":…},"type":"cosign container image signature"},
//!   "optional":null}`, signed as it is (ECDSA over its SHA-256).
//! - A signature layer: the payload blob, typed
//!   `application/vnd.dev.cosign.simplesigning.v1+json`, its descriptor annotated
//!   `dev.cosignproject.cosign/signature` = base64 of the DER signature.
//! - The `.sig` manifest under tag `sha256-<hex>.sig` in the image's repository (what
//!   cosign, policy-controller, Kyverno and containers/image's
//!   `use-sigstore-attachments` read): an OCI image manifest whose layers are every
//!   signature of that digest; a new one is appended to the layers already there.
//! - The OCI 1.1 referrer: a manifest with `artifactType`
//!   `application/vnd.dev.cosign.artifact.sig.v1+json` (cosign's OCI 1.1 mode), the
//!   empty config, the signature layer, and `subject` = the signed manifest.

use serde_json::{json, Value};

use crate::oci::json::{self, JsonBlob};
use crate::oci::Digest;

pub const PAYLOAD_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The referrer's `artifactType` (cosign's `ArtifactType("sig")`).
pub const ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
const PAYLOAD_KIND: &str = "cosign container image signature";

/// The payload asserting that `docker_reference` (`registry/repo:tag`) names the
/// manifest `digest`.
pub fn payload(docker_reference: &str, digest: &str) -> JsonBlob {
    json::canonical(json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_KIND,
        },
        "optional": null,
    }))
}

/// One signature: its payload and the descriptor listing it (with the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigLayer {
    pub payload: JsonBlob,
    pub descriptor: Value,
}

/// The layer for `payload` signed as `signature` (DER bytes).
pub fn layer(payload: JsonBlob, signature: &[u8]) -> SigLayer {
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::STANDARD.encode(signature);
    let descriptor = json!({
        "mediaType": PAYLOAD_TYPE,
        "digest": payload.digest,
        "size": payload.size(),
        "annotations": {SIGNATURE_ANNOTATION: sig},
    });
    SigLayer {
        payload,
        descriptor,
    }
}

/// The tag cosign looks signatures of manifest `digest` up by.
pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// The manifest digest a `.sig` or `.att` tag is for: both list layers the same way,
/// and a push appends ours to what the tag held.
pub fn attached_digest(tag: &str) -> Option<String> {
    let d = tag
        .strip_suffix(".sig")
        .or_else(|| tag.strip_suffix(".att"))?
        .replacen('-', ":", 1);
    Digest::is_valid(&d).then_some(d)
}

/// A `.sig` manifest and its config blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigManifest {
    pub manifest: JsonBlob,
    pub config: JsonBlob,
}

/// The `.sig` manifest listing `layers` (descriptors), with an image config whose
/// `diff_ids` are their digests (the layers are uncompressed), as cosign writes it.
pub fn sig_manifest(layers: &[Value]) -> SigManifest {
    let digests: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
    let config = json::canonical(json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": digests},
    }));
    let manifest = json::canonical(json!({
        "schemaVersion": 2,
        "mediaType": json::MANIFEST_TYPE,
        "config": {"mediaType": json::CONFIG_TYPE, "digest": config.digest, "size": config.size()},
        "layers": layers,
    }));
    SigManifest { manifest, config }
}

/// The layers of the `.sig` manifest `existing` (what the tag held; `None`: nothing)
/// with `ours` appended, each signature once. `None` when `existing` already lists all.
pub fn merged_layers(
    existing: Option<&[u8]>,
    ours: &[Value],
) -> Result<Option<Vec<Value>>, String> {
    let mut layers: Vec<Value> = match existing {
        None => Vec::new(),
        Some(bytes) => {
            let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
            match v["layers"].as_array() {
                Some(l) => l.clone(),
                None => return Err("it is not an image manifest".into()),
            }
        }
    };
    let before = layers.len();
    for l in ours {
        if !layers.contains(l) {
            layers.push(l.clone());
        }
    }
    Ok((existing.is_none() || layers.len() > before).then_some(layers))
}

/// The OCI 1.1 referrer of one signature: `subject` is the signed manifest's
/// descriptor (`mediaType`, `digest`, `size`).
pub fn referrer(layer: &SigLayer, subject: &Value) -> JsonBlob {
    json::canonical(json::artifact_manifest(
        ARTIFACT_TYPE,
        layer.descriptor.clone(),
        subject,
    ))
}

/// The claims of a payload, as a verifier reads them: (docker-reference, digest).
pub fn claims(payload: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    let c = &v["critical"];
    (c["type"] == PAYLOAD_KIND).then_some(())?;
    Some((
        c["identity"]["docker-reference"].as_str()?.to_string(),
        c["image"]["docker-manifest-digest"].as_str()?.to_string(),
    ))
}
