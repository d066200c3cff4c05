//! Pure: SLSA provenance, the one place that knows its formats.
//!
//! - The in-toto Statement v1: `_type`, `subject` (the image's name and `{sha256: hex}`),
//!   `predicateType` <https://slsa.dev/provenance/v1> and the predicate: `buildDefinition`
//!   (`buildType`, `externalParameters` = the request, `resolvedDependencies`) and
//!   `runDetails.builder`. Canonical JSON, so equal inputs give equal bytes.
//! - The DSSE envelope around it: `payloadType` `application/vnd.in-toto+json`, the
//!   statement in base64, and ECDSA signatures over DSSE's pre-authentication encoding
//!   ([`pae`]), `keyid` empty as cosign writes it for a key.
//! - Where it is attached, as cosign reads attestations: a layer typed
//!   `application/vnd.dsse.envelope.v1+json` annotated `predicateType`, listed in the
//!   manifest under tag `sha256-<hex>.att` (same manifest shape as `.sig`, see
//!   [`super::cosign::sig_manifest`]) and in an OCI 1.1 referrer with `artifactType`
//!   `application/vnd.dev.cosign.artifact.att.v1+json` (cosign's `ArtifactType("att")`).

use base64::Engine as _;
use serde_json::{json, Value};

use crate::oci::json::{self, JsonBlob};
use crate::oci::Digest;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The media type of the `.att` layer holding an envelope.
pub const ENVELOPE_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The referrer's `artifactType` (cosign's `ArtifactType("att")`).
pub const ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.att.v1+json";
/// The layer annotation cosign filters attestations by.
pub const PREDICATE_ANNOTATION: &str = "predicateType";
/// `buildType` of a `sparkimg build`: `externalParameters` is the build's request, as
/// docs/signing.md lists it.
pub const BUILD_TYPE: &str =
    "https://github.com/sparkimg/sparkimg/blob/main/docs/signing.md#build-v1";
/// `buildType` of a `sparkimg rebase`: the source image moved onto a new base.
pub const REBASE_TYPE: &str =
    "https://github.com/sparkimg/sparkimg/blob/main/docs/signing.md#rebase-v1";
/// `runDetails.builder.id`.
pub const BUILDER_ID: &str = "https://github.com/sparkimg/sparkimg";

/// An in-toto ResourceDescriptor: something the build used, by name or URI and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub name: Option<String>,
    pub uri: Option<String>,
    /// `(algorithm, lowercase hex)`, e.g. `("sha512", …)`.
    pub digest: Vec<(String, String)>,
}

impl Dependency {
    /// A dependency named by an OCI digest (`sha256:<hex>`).
    pub fn oci(name: &str, digest: &Digest) -> Dependency {
        Dependency {
            name: Some(name.to_string()),
            uri: None,
            digest: vec![("sha256".into(), digest.hex().to_string())],
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "digest": self.digest.iter().map(|(a, h)| (a.clone(), Value::from(h.as_str())))
                .collect::<serde_json::Map<_, _>>(),
        });
        if let Some(n) = &self.name {
            v["name"] = n.as_str().into();
        }
        if let Some(u) = &self.uri {
            v["uri"] = u.as_str().into();
        }
        v
    }
}

/// The SLSA v1 predicate. `external` is the request, exactly; `version` is sparkimg's.
pub fn predicate(build_type: &str, external: Value, deps: &[Dependency], version: &str) -> Value {
    // Sorted, so the order the build met them in does not change the bytes.
    let mut resolved: Vec<Value> = deps.iter().map(Dependency::to_json).collect();
    resolved.sort_by_key(|d| d.to_string());
    resolved.dedup();
    json!({
        "buildDefinition": {
            "buildType": build_type,
            "externalParameters": external,
            "resolvedDependencies": resolved,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"sparkimg": version}},
        },
    })
}

/// The statement that `name` (the image's reference) at `digest` was made as `predicate`.
pub fn statement(name: &str, digest: &Digest, predicate: &Value) -> JsonBlob {
    json::canonical(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest.hex()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }))
}

/// DSSE's pre-authentication encoding: what is signed, binding the payload's type.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The envelope of `payload` (a statement) signed as `signature` (DER over [`pae`]).
pub fn envelope(payload: &[u8], signature: &[u8]) -> JsonBlob {
    json::canonical(json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": b64(payload),
        "signatures": [{"keyid": "", "sig": b64(signature)}],
    }))
}

/// An envelope as a verifier reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub payload_type: String,
    pub payload: Vec<u8>,
    /// Each signature's DER bytes.
    pub signatures: Vec<Vec<u8>>,
}

/// Reads an envelope; the reason when it is not one.
pub fn open(envelope: &[u8]) -> Result<Opened, String> {
    let v: Value = serde_json::from_slice(envelope).map_err(|e| e.to_string())?;
    let unb64 = |s: &Value, what: &str| {
        let s = s.as_str().ok_or(format!("no {what}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("its {what}: {e}"))
    };
    let signatures = v["signatures"]
        .as_array()
        .ok_or("no signatures")?
        .iter()
        .map(|s| unb64(&s["sig"], "signature"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Opened {
        payload_type: v["payloadType"].as_str().unwrap_or_default().to_string(),
        payload: unb64(&v["payload"], "payload")?,
        signatures,
    })
}

/// The subject digests (`sha256:<hex>`) and predicate type of a statement.
pub fn subjects(statement: &[u8]) -> Result<(Vec<String>, String), String> {
    let v: Value = serde_json::from_slice(statement).map_err(|e| e.to_string())?;
    if v["_type"] != STATEMENT_TYPE {
        return Err(format!("its _type is {}, not {STATEMENT_TYPE}", v["_type"]));
    }
    let digests = v["subject"]
        .as_array()
        .ok_or("it has no subject")?
        .iter()
        .filter_map(|s| s["digest"]["sha256"].as_str())
        .map(|h| format!("sha256:{h}"))
        .collect();
    let kind = v["predicateType"].as_str().unwrap_or_default().to_string();
    Ok((digests, kind))
}

/// The `.att` layer descriptor of `envelope`.
pub fn layer(envelope: &JsonBlob) -> Value {
    json!({
        "mediaType": ENVELOPE_TYPE,
        "digest": envelope.digest,
        "size": envelope.size(),
        "annotations": {PREDICATE_ANNOTATION: PREDICATE_TYPE},
    })
}

/// The tag cosign looks attestations of manifest `digest` up by.
pub fn att_tag(digest: &str) -> String {
    format!("{}.att", digest.replace(':', "-"))
}

/// The OCI 1.1 referrer of one attestation layer; `subject` is the image's descriptor.
pub fn referrer(layer: &Value, subject: &Value) -> JsonBlob {
    json::canonical(json::artifact_manifest(
        ARTIFACT_TYPE,
        layer.clone(),
        subject,
    ))
}

/// The predicate of a statement (`Value::Null` when it has none).
pub fn predicate_of(statement: &[u8]) -> Value {
    serde_json::from_slice::<Value>(statement)
        .map(|v| v["predicate"].clone())
        .unwrap_or(Value::Null)
}
