//! `sparkimg verify`: an image's attachments checked against a public key. Each
//! manifest the image publishes (the one its reference names and, for an index, every
//! platform manifest) must have a cosign signature by the key naming its digest, a
//! provenance statement in a DSSE envelope signed by the key whose subject is its
//! digest, and (platform manifests) an SBOM. What is read comes from an [`Attachments`]:
//! a layout ([`Layout`]) or a registry ([`Remote`]); the checks are the same.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::BuildError;
use crate::oci::layout::{CONTAINERD_NAME, REF_NAME};
use crate::oci::{blob_path, Digest};
use crate::registry::manifest::Desc;
use crate::registry::{RegistryOptions, RegistryRef};
use crate::sign::{cosign, provenance, PublicKey};

/// Where an image's manifests and attachments are read from.
pub trait Attachments {
    /// The manifest tag `tag` names (a cosign `.sig`/`.att` tag); `None` when absent.
    fn tagged(&self, tag: &str) -> Result<Option<Vec<u8>>, BuildError>;
    /// A manifest by digest.
    fn manifest(&self, digest: &str) -> Result<Vec<u8>, BuildError>;
    /// The bytes of blobs, each checked against its digest.
    fn blobs(&self, descs: &[Desc]) -> Result<Vec<Vec<u8>>, BuildError>;
    /// The first layers of the OCI 1.1 referrers of `subject` with `artifact_type`.
    fn referrer_layers(&self, subject: &str, artifact_type: &str) -> Result<Vec<Desc>, BuildError>;
}

/// One check of one manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `signature`, `provenance` or `sbom`.
    pub check: &'static str,
    pub digest: String,
    pub ok: bool,
    pub detail: String,
    /// What to do when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Every check of an image, in order.
pub fn verify(
    source: &dyn Attachments,
    top: &str,
    key: &PublicKey,
) -> Result<Vec<Check>, BuildError> {
    let bytes = source.manifest(top)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|source| BuildError::Json {
        what: "the image's manifest",
        source,
    })?;
    let platforms: Vec<String> = v["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["digest"].as_str().map(String::from))
        .collect();
    let mut checks = Vec::new();
    let all: Vec<String> = std::iter::once(top.to_string())
        .chain(platforms.clone())
        .collect();
    for d in &all {
        checks.push(signature(source, d, key)?);
    }
    for d in &all {
        checks.push(attestation(source, d, key)?);
    }
    let images = if platforms.is_empty() {
        vec![top.to_string()]
    } else {
        platforms
    };
    for d in &images {
        checks.push(sbom(source, d)?);
    }
    Ok(checks)
}

fn layers_of(manifest: Option<Vec<u8>>) -> Vec<Desc> {
    manifest
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| serde_json::from_value(m["layers"].clone()).ok())
        .unwrap_or_default()
}

/// The layers of cosign tag `tag` and of the referrers typed `kind`, each once.
fn attached(
    source: &dyn Attachments,
    digest: &str,
    tag: &str,
    kind: &str,
) -> Result<Vec<Desc>, BuildError> {
    let mut layers = layers_of(source.tagged(tag)?);
    for l in source.referrer_layers(digest, kind)? {
        if !layers.iter().any(|x| x.digest == l.digest) {
            layers.push(l);
        }
    }
    Ok(layers)
}

fn result(check: &'static str, digest: &str, outcome: Result<String, (String, String)>) -> Check {
    let (ok, detail, fix) = match outcome {
        Ok(d) => (true, d, None),
        Err((d, f)) => (false, d, Some(f)),
    };
    Check {
        check,
        digest: digest.to_string(),
        ok,
        detail,
        fix,
    }
}

const WRONG_KEY: &str = "pass the public key of the --sign-key that signed it; if the image \
                         changed after signing, sign (and attest) it again";

fn signature(source: &dyn Attachments, digest: &str, key: &PublicKey) -> Result<Check, BuildError> {
    use base64::Engine as _;
    let tag = cosign::sig_tag(digest);
    let layers = attached(source, digest, &tag, cosign::ARTIFACT_TYPE)?;
    if layers.is_empty() {
        let fix = "sign it: `sparkimg build|push|rebase --sign-key KEY`".to_string();
        return Ok(result(
            "signature",
            digest,
            Err((format!("no signature ({tag} or a referrer)"), fix)),
        ));
    }
    let payloads = source.blobs(&layers)?;
    let mut named_other = None;
    for (l, payload) in layers.iter().zip(&payloads) {
        let sig = l
            .annotations
            .as_ref()
            .and_then(|a| a.get(cosign::SIGNATURE_ANNOTATION));
        let der = sig.and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
        if !der.is_some_and(|d| key.verifies(payload, &d)) {
            continue;
        }
        match cosign::claims(payload) {
            Some((reference, d)) if d == digest => {
                return Ok(result(
                    "signature",
                    digest,
                    Ok(format!("signed by the key as {reference}")),
                ));
            }
            Some((_, d)) => named_other = Some(d),
            None => {}
        }
    }
    let detail = match named_other {
        Some(d) => {
            format!("the key's signature names {d}, not this manifest: it changed after signing")
        }
        None => format!("{} signature(s), none by this key", layers.len()),
    };
    Ok(result("signature", digest, Err((detail, WRONG_KEY.into()))))
}

fn attestation(
    source: &dyn Attachments,
    digest: &str,
    key: &PublicKey,
) -> Result<Check, BuildError> {
    let tag = provenance::att_tag(digest);
    let layers = attached(source, digest, &tag, provenance::ARTIFACT_TYPE)?;
    let layers: Vec<Desc> = layers
        .into_iter()
        .filter(|l| l.media_type == provenance::ENVELOPE_TYPE)
        .collect();
    if layers.is_empty() {
        let fix = "attest it: `sparkimg build --sign-key KEY --provenance` (or rebase)".to_string();
        return Ok(result(
            "provenance",
            digest,
            Err((format!("no provenance ({tag} or a referrer)"), fix)),
        ));
    }
    let envelopes = source.blobs(&layers)?;
    let mut named_other = None;
    for env in &envelopes {
        let Some((subjects, _)) = signed_statement(env, key) else {
            continue;
        };
        match subjects.iter().any(|s| s == digest) {
            true => {
                return Ok(result(
                    "provenance",
                    digest,
                    Ok("SLSA v1 provenance signed by the key".to_string()),
                ))
            }
            false => named_other = subjects.first().cloned(),
        }
    }
    let detail = match named_other {
        Some(d) => format!(
            "the key's statement is about {d}, not this manifest: it changed after it was attested"
        ),
        None => format!(
            "{} attestation(s), none a SLSA v1 statement signed by this key",
            layers.len()
        ),
    };
    Ok(result(
        "provenance",
        digest,
        Err((detail, WRONG_KEY.into())),
    ))
}

/// The subjects and the statement of `envelope`, when it is a SLSA v1 statement the key
/// signed.
fn signed_statement(envelope: &[u8], key: &PublicKey) -> Option<(Vec<String>, Vec<u8>)> {
    let opened = provenance::open(envelope).ok()?;
    let pae = provenance::pae(&opened.payload_type, &opened.payload);
    let signed = opened.payload_type == provenance::PAYLOAD_TYPE
        && opened.signatures.iter().any(|s| key.verifies(&pae, s));
    let (subjects, kind) = provenance::subjects(&opened.payload).ok()?;
    (signed && kind == provenance::PREDICATE_TYPE).then_some((subjects, opened.payload))
}

/// The predicate of the key's SLSA v1 statement about `digest`; `None` when there is
/// none (the `provenance` check says why).
pub fn predicate(
    source: &dyn Attachments,
    digest: &str,
    key: &PublicKey,
) -> Result<Option<Value>, BuildError> {
    let tag = provenance::att_tag(digest);
    let layers: Vec<Desc> = attached(source, digest, &tag, provenance::ARTIFACT_TYPE)?
        .into_iter()
        .filter(|l| l.media_type == provenance::ENVELOPE_TYPE)
        .collect();
    for env in source.blobs(&layers)? {
        if let Some((subjects, statement)) = signed_statement(&env, key) {
            if subjects.iter().any(|s| s == digest) {
                return Ok(Some(provenance::predicate_of(&statement)));
            }
        }
    }
    Ok(None)
}

fn sbom(source: &dyn Attachments, digest: &str) -> Result<Check, BuildError> {
    let mut kinds = Vec::new();
    for f in [crate::sbom::Format::Spdx, crate::sbom::Format::CycloneDx] {
        if !source
            .referrer_layers(digest, f.artifact_type())?
            .is_empty()
        {
            kinds.push(f.artifact_type());
        }
    }
    let outcome = match kinds.is_empty() {
        false => Ok(format!("SBOM attached ({})", kinds.join(", "))),
        true => Err((
            "no SBOM referrer".to_string(),
            "build it with --sbom spdx (the default) and keep it: --push or --output oci:DIR"
                .to_string(),
        )),
    };
    Ok(result("sbom", digest, outcome))
}

/// An OCI layout on disk.
pub struct Layout {
    pub dir: PathBuf,
    index: Value,
}

impl Layout {
    /// The layout at `dir` and the digest of its image `select` (or its only image).
    pub fn open(dir: &Path, select: Option<&str>) -> Result<(Layout, String), BuildError> {
        let path = dir.join("index.json");
        let bytes = std::fs::read(&path).map_err(BuildError::io(&path))?;
        let index: Value = serde_json::from_slice(&bytes).map_err(|source| BuildError::Json {
            what: "the layout's index.json",
            source,
        })?;
        let named = |e: &Value, s: &str| {
            e["annotations"][REF_NAME] == s || e["annotations"][CONTAINERD_NAME] == s
        };
        let images: Vec<&Value> = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e.get("artifactType").is_none())
            .filter(|e| select.is_none_or(|s| named(e, s)))
            .collect();
        let [image] = images.as_slice() else {
            return Err(BuildError::usage(format!(
                "{} images of {} match: name one with oci:DIR:REF",
                images.len(),
                dir.display()
            )));
        };
        let digest = image["digest"].as_str().unwrap_or_default().to_string();
        Ok((
            Layout {
                dir: dir.to_path_buf(),
                index,
            },
            digest,
        ))
    }

    fn read(&self, digest: &str) -> Result<Vec<u8>, BuildError> {
        let path = blob_path(&self.dir, digest);
        let bytes = std::fs::read(&path).map_err(BuildError::io(&path))?;
        match Digest::of(&bytes).as_str() == digest {
            true => Ok(bytes),
            false => Err(BuildError::usage(format!(
                "blob {} does not match its digest",
                path.display()
            ))),
        }
    }
}

impl Attachments for Layout {
    fn tagged(&self, tag: &str) -> Result<Option<Vec<u8>>, BuildError> {
        let entries = self.index["manifests"].as_array().into_iter().flatten();
        match entries
            .into_iter()
            .find(|e| e["annotations"][REF_NAME] == tag)
        {
            Some(e) => self
                .read(e["digest"].as_str().unwrap_or_default())
                .map(Some),
            None => Ok(None),
        }
    }

    fn manifest(&self, digest: &str) -> Result<Vec<u8>, BuildError> {
        self.read(digest)
    }

    fn blobs(&self, descs: &[Desc]) -> Result<Vec<Vec<u8>>, BuildError> {
        descs.iter().map(|d| self.read(&d.digest)).collect()
    }

    fn referrer_layers(&self, subject: &str, artifact_type: &str) -> Result<Vec<Desc>, BuildError> {
        let mut out = Vec::new();
        for e in self.index["manifests"].as_array().into_iter().flatten() {
            if e["artifactType"] != artifact_type || e["annotations"][REF_NAME].is_string() {
                continue;
            }
            let m: Value =
                serde_json::from_slice(&self.read(e["digest"].as_str().unwrap_or_default())?)
                    .map_err(|source| BuildError::Json {
                        what: "a referrer manifest",
                        source,
                    })?;
            if m["subject"]["digest"] == subject {
                out.extend(serde_json::from_value::<Desc>(m["layers"][0].clone()).ok());
            }
        }
        Ok(out)
    }
}

/// An image in a registry: cosign's tags, and its SBOMs through the referrers API (or
/// the referrers tag).
pub struct Remote<'a> {
    pub reference: RegistryRef,
    pub opts: &'a RegistryOptions,
}

impl Remote<'_> {
    /// The digest of the manifest `reference` names.
    pub fn digest(&self) -> Result<String, BuildError> {
        if let Some(d) = &self.reference.digest {
            return Ok(d.clone());
        }
        let bytes =
            crate::registry::manifest_if_any(&self.reference, self.opts).map_err(Box::new)?;
        let bytes = bytes
            .ok_or_else(|| BuildError::usage(format!("{} names no manifest", self.reference)))?;
        Ok(Digest::of(&bytes).into())
    }

    fn at(&self, tag: Option<&str>, digest: Option<&str>) -> RegistryRef {
        RegistryRef {
            tag: tag.map(String::from),
            digest: digest.map(String::from),
            ..self.reference.clone()
        }
    }
}

impl Attachments for Remote<'_> {
    fn tagged(&self, tag: &str) -> Result<Option<Vec<u8>>, BuildError> {
        Ok(
            crate::registry::manifest_if_any(&self.at(Some(tag), None), self.opts)
                .map_err(Box::new)?,
        )
    }

    fn manifest(&self, digest: &str) -> Result<Vec<u8>, BuildError> {
        let got = crate::registry::manifest_if_any(&self.at(None, Some(digest)), self.opts)
            .map_err(Box::new)?;
        got.ok_or_else(|| BuildError::usage(format!("{} has no manifest {digest}", self.reference)))
    }

    fn blobs(&self, descs: &[Desc]) -> Result<Vec<Vec<u8>>, BuildError> {
        Ok(crate::registry::blobs_once(&self.reference, descs, self.opts).map_err(Box::new)?)
    }

    fn referrer_layers(&self, subject: &str, artifact_type: &str) -> Result<Vec<Desc>, BuildError> {
        // Signatures and attestations are read from cosign's tags; the referrers lookup
        // only says whether a document of the type is attached.
        if artifact_type == cosign::ARTIFACT_TYPE || artifact_type == provenance::ARTIFACT_TYPE {
            return Ok(Vec::new());
        }
        let at = self.at(None, Some(subject));
        let found = crate::registry::referrers(
            &at,
            &crate::oci::Platform::host(),
            &[artifact_type],
            self.opts,
        )
        .map_err(Box::new)?;
        Ok(found
            .documents
            .iter()
            .map(|(_, b)| Desc {
                media_type: artifact_type.to_string(),
                digest: Digest::of(b).into(),
                size: b.len() as u64,
                platform: None,
                annotations: None,
                artifact_type: None,
            })
            .collect())
    }
}
