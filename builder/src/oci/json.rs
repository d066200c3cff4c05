//! Pure: manifests, indexes and referrers as canonical JSON (keys sorted at every
//! level, no whitespace), so equal inputs give equal bytes and digests.

use std::collections::BTreeMap;

use super::layout::{CONTAINERD_NAME, REF_NAME};
use super::Digest;
use serde_json::{json, Value};

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// Written in every history entry of our layers, so a rebase can tell them from the base's.
pub const HISTORY_COMMENT: &str = "sparkimg";

/// A layer as manifests and configs describe it (the blob may be compressed; its
/// diff ID is the digest of the uncompressed tar).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerBlob {
    /// `sha256:<hex>` of the stored (compressed) bytes.
    pub digest: String,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
}

/// A serialised blob: bytes plus its descriptor fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBlob {
    pub bytes: Vec<u8>,
    pub digest: String,
}

impl JsonBlob {
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

fn sort_value(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_value);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_value),
        _ => {}
    }
}

pub fn canonical(mut v: Value) -> JsonBlob {
    sort_value(&mut v);
    let bytes = serde_json::to_vec(&v).unwrap_or_default();
    let digest = Digest::of(&bytes).into();
    JsonBlob { bytes, digest }
}

/// RFC 3339 UTC for seconds since the epoch (civil-from-days, H. Hinnant).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Pure: seconds since the epoch of an [`rfc3339`] time (`YYYY-MM-DDTHH:MM:SSZ`, UTC,
/// as `build` writes it; days-from-civil, H. Hinnant); `None` for any other form.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && b[19] == b'Z';
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = &s[r];
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    let secs = u64::try_from(secs).ok()?;
    // Only a time `rfc3339` gives back unchanged (no 31 February).
    (rfc3339(secs) == s).then_some(secs)
}

/// An OCI image manifest.
pub fn manifest(
    config: &JsonBlob,
    layers: &[&LayerBlob],
    annotations: &BTreeMap<String, String>,
) -> JsonBlob {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size}))
        .collect();
    canonical(json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config.digest, "size": config.size()},
        "layers": layers,
        "annotations": annotations,
    }))
}

/// One platform's image manifest, as an index lists it.
#[derive(Debug, Clone)]
pub struct PlatformManifest {
    pub manifest: JsonBlob,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl PlatformManifest {
    fn descriptor(&self) -> Value {
        let mut platform = json!({"os": self.os, "architecture": self.arch});
        if let Some(v) = &self.variant {
            platform["variant"] = json!(v);
        }
        json!({
            "mediaType": MANIFEST_TYPE,
            "digest": self.manifest.digest,
            "size": self.manifest.size(),
            "platform": platform,
        })
    }
}

/// What an `index.json` entry points at: one platform's manifest, or an index of several.
#[derive(Debug, Clone)]
pub enum Target {
    Manifest(PlatformManifest),
    Index(JsonBlob),
}

/// One `index.json` entry.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub target: Target,
    pub ref_name: String,
    pub full_name: String,
}

/// The image index of one multi-platform image (what its tag points at once pushed).
pub fn platform_index(manifests: &[PlatformManifest]) -> JsonBlob {
    let manifests: Vec<Value> = manifests.iter().map(PlatformManifest::descriptor).collect();
    canonical(json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}))
}

/// The layout's `index.json`: one entry per image, named by its reference.
pub fn index(entries: &[IndexEntry]) -> JsonBlob {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut d = match &e.target {
                Target::Manifest(m) => m.descriptor(),
                Target::Index(i) => {
                    json!({"mediaType": INDEX_TYPE, "digest": i.digest, "size": i.size()})
                }
            };
            d["annotations"] = json!({
                REF_NAME: e.ref_name,
                CONTAINERD_NAME: e.full_name,
            });
            d
        })
        .collect();
    canonical(json!({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}))
}

/// The empty config of an artifact manifest (OCI 1.1: `{}`, its own media type).
pub const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// An OCI 1.1 artifact manifest that refers to `subject` (a manifest descriptor): the
/// document `doc` as its one layer, typed `artifact_type` (an SBOM's referrer).
pub fn referrer(artifact_type: &str, doc: &JsonBlob, subject: &Value, created: &str) -> JsonBlob {
    let layer = json!({"mediaType": artifact_type, "digest": doc.digest, "size": doc.size()});
    let mut m = artifact_manifest(artifact_type, layer, subject);
    m["annotations"] = json!({"org.opencontainers.image.created": created});
    canonical(m)
}

/// The one shape of an OCI 1.1 artifact manifest: `artifact_type`, the empty config,
/// `layer` (a descriptor) as its only layer and `subject`; referrers of every kind (SBOMs,
/// signatures, attestations) add to it.
pub fn artifact_manifest(artifact_type: &str, layer: Value, subject: &Value) -> Value {
    let empty = Digest::of(EMPTY_CONFIG).to_string();
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_TYPE, "digest": empty, "size": EMPTY_CONFIG.len()},
        "layers": [layer],
        "subject": subject,
    })
}

/// `index` with `extra` descriptors appended (referrers listed beside the images).
pub fn with_manifests(index: &JsonBlob, extra: Vec<Value>) -> JsonBlob {
    let mut v: Value = serde_json::from_slice(&index.bytes).unwrap_or_else(|_| json!({}));
    if let Some(list) = v.get_mut("manifests").and_then(Value::as_array_mut) {
        list.extend(extra);
    }
    canonical(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for secs in [0, 1, 59, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs), "{secs}");
        }
        for bad in [
            "",
            "2023-11-14T22:13:20",
            "2023-11-14 22:13:20Z",
            "2023-02-31T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "+023-11-14T22:13:20Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
